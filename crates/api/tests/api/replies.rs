use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

async fn seed_crud(app: &TestApp) -> String {
    app.home("").await.json()[0]["uuid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_reply_is_created_nested_under_its_crud_and_counted() {
    let app = TestApp::seeded().await;
    let parent = seed_crud(&app).await;
    let first = app.reply(&parent, "first!", "bayko").await;
    assert_eq!(first.status, StatusCode::OK);
    let first = first.json();
    assert_eq!(first["reply_to_activity_uuid"], parent.as_str());
    assert_eq!(first["handle"], "bayko");
    assert_eq!(first["replies"], json!([]));
    app.reply(&parent, "second", "andrewbrown").await;

    let feed = app.home("").await.json();
    let feed = feed.as_array().unwrap();
    assert_eq!(feed.len(), 1, "replies are not top-level feed items");
    assert_eq!(feed[0]["replies_count"], 2);
    let replies = feed[0]["replies"].as_array().unwrap();
    let messages: Vec<&str> = replies
        .iter()
        .map(|r| r["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["first!", "second"], "oldest first");
    assert_eq!(replies[0]["uuid"], first["uuid"]);
    assert_eq!(replies[0]["display_name"], "Andrew Bayko");
    crate::helpers::timestamp(&replies[0]["created_at"]);
}

#[tokio::test]
async fn the_status_page_shows_the_crud_and_its_replies() {
    let app = TestApp::seeded().await;
    let parent = seed_crud(&app).await;
    app.reply(&parent, "a reply", "bayko").await;
    let reply = app
        .get(&format!("/api/activities/@andrewbrown/status/{parent}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let page = reply.json();
    assert_eq!(page["activity"]["uuid"], parent.as_str());
    assert_eq!(page["activity"]["replies_count"], 1);
    let replies = page["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["message"], "a reply");
    assert_eq!(replies[0]["reply_to_activity_uuid"], parent.as_str());
    crate::helpers::timestamp(&page["activity"]["created_at"]);

    for wrong in [
        format!("/api/activities/@bayko/status/{parent}"),
        "/api/activities/@andrewbrown/status/00000000-0000-4000-8000-000000000000".to_owned(),
        "/api/activities/@andrewbrown/status/not-a-uuid".to_owned(),
    ] {
        let reply = app.get(&wrong).await;
        assert_eq!(
            (reply.status, reply.codes()),
            (StatusCode::NOT_FOUND, vec!["not_found".to_owned()]),
            "{wrong}"
        );
    }
}

#[tokio::test]
async fn replying_to_an_unknown_or_expired_crud_is_404_and_writes_nothing() {
    let app = TestApp::seeded().await;
    let reply = app
        .reply("00000000-0000-4000-8000-000000000000", "hello", "bayko")
        .await;
    assert_eq!(
        (reply.status, reply.codes()),
        (StatusCode::NOT_FOUND, vec!["not_found".to_owned()])
    );
    let reply = app.reply("not-a-uuid", "hello", "bayko").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let parent = seed_crud(&app).await;
    app.sql("UPDATE activities SET expires_at = now() - interval '1 minute'")
        .await;
    let reply = app.reply(&parent, "too late", "bayko").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(app.count_activities().await, 1);
}

#[tokio::test]
async fn reply_validation_uses_its_own_1024_character_limit_and_known_authors() {
    let app = TestApp::seeded().await;
    let parent = seed_crud(&app).await;
    let ok = app.reply(&parent, &"ü".repeat(1024), "bayko").await;
    assert_eq!(ok.status, StatusCode::OK);
    let too_long = app.reply(&parent, &"ü".repeat(1025), "bayko").await;
    assert_eq!(too_long.codes(), ["message_exceed_max_chars"]);
    let blank = app
        .post_json(&format!("/api/activities/{parent}/reply"), &json!({}))
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(blank.codes(), ["user_handle_blank", "message_blank"]);
    let stranger = app.reply(&parent, "hi", "nobody").await;
    assert_eq!(stranger.codes(), ["user_not_found"]);
    let count: i32 = app
        .db
        .client()
        .await
        .query_one(
            "SELECT replies_count FROM activities WHERE reply_to_activity_uuid IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1, "only the successful reply was counted");
}

#[tokio::test]
async fn a_reply_racing_the_deletion_of_its_parent_is_404_not_a_rejected_value() {
    let app = TestApp::seeded().await;
    let parent = seed_crud(&app).await;
    let before = app.count_activities().await;
    let deleter = app.db.client().await;
    deleter
        .batch_execute(&format!(
            "BEGIN; DELETE FROM activities WHERE uuid = '{parent}'"
        ))
        .await
        .unwrap();
    let watcher = app.db.client().await;
    let (reply, ()) = tokio::join!(app.reply(&parent, "too late", "bayko"), async {
        // Commit the delete only once the reply is waiting for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let waiting: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .await
                .unwrap()
                .get(0);
            if waiting > 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the reply never waited"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        deleter.batch_execute("COMMIT").await.unwrap();
    });
    assert_eq!(
        (reply.status, reply.codes()),
        (StatusCode::NOT_FOUND, vec!["not_found".to_owned()])
    );
    assert_eq!(
        app.count_activities().await,
        before - 1,
        "only the delete happened"
    );
}
