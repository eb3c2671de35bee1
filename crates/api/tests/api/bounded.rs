//! Every page is bounded whatever the data: the status page pages its replies (a keyset cursor
//! like the feed's), and a crud with 20,000 long replies leaves every route's answer small.

use axum::http::StatusCode;
use serde_json::Value;

use crate::helpers::TestApp;

/// The newest seeded crud (by @andrewbrown).
async fn newest_crud(app: &TestApp) -> String {
    app.home("").await.json()[0]["uuid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `n` replies to `parent` by @bayko, one second apart (oldest first: `reply 1` … `reply n`),
/// each message `pad` characters long after its number. Written 1,000 per transaction: the
/// count trigger updates the parent once per reply, and in one transaction each update walks
/// every earlier version of that row.
async fn add_replies(app: &TestApp, parent: &str, n: u32, pad: usize) {
    for first in (1..=n).step_by(1_000) {
        let last = (first + 999).min(n);
        app.sql(&format!(
            "INSERT INTO activities (user_uuid, message, reply_to_activity_uuid, created_at)
             SELECT u.uuid, 'reply ' || i || repeat('x', {pad}), '{parent}',
                    now() - interval '1 day' + i * interval '1 second'
             FROM users u, generate_series({first}, {last}) i
             WHERE u.handle = 'bayko'"
        ))
        .await;
    }
}

fn messages(page: &Value) -> Vec<String> {
    page["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_owned())
        .collect()
}

fn status_uri(parent: &str, query: &str) -> String {
    format!("/api/activities/@andrewbrown/status/{parent}{query}")
}

#[tokio::test]
async fn the_status_page_pages_its_replies_oldest_first_with_an_after_cursor() {
    let app = TestApp::seeded().await;
    let parent = newest_crud(&app).await;
    add_replies(&app, &parent, 5, 0).await;

    let first = app.get(&status_uri(&parent, "?limit=2")).await;
    assert_eq!(first.status, StatusCode::OK);
    let first = first.json();
    assert_eq!(messages(&first), ["reply 1", "reply 2"]);
    assert_eq!(
        first["activity"]["replies_count"], 5,
        "the count is the total"
    );

    // A reply posted meanwhile, older than the cursor, neither shifts nor repeats the next page.
    let cursor = first["replies"][1]["uuid"].as_str().unwrap().to_owned();
    add_replies(&app, &parent, 1, 0).await;
    let second = app
        .get(&status_uri(&parent, &format!("?limit=2&after={cursor}")))
        .await
        .json();
    assert_eq!(messages(&second), ["reply 3", "reply 4"]);
    let cursor = second["replies"][1]["uuid"].as_str().unwrap().to_owned();
    let third = app
        .get(&status_uri(&parent, &format!("?limit=2&after={cursor}")))
        .await
        .json();
    assert_eq!(messages(&third), ["reply 5"]);

    // Without a limit a page holds 20 replies.
    add_replies(&app, &parent, 30, 0).await;
    let default = app.get(&status_uri(&parent, "")).await.json();
    assert_eq!(default["replies"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn a_cursor_that_is_not_a_reply_of_this_crud_gives_no_replies() {
    let app = TestApp::seeded().await;
    let parent = newest_crud(&app).await;
    add_replies(&app, &parent, 3, 0).await;
    // The crud itself is not one of its replies; nor is a uuid nobody wrote.
    for cursor in [parent.as_str(), "00000000-0000-4000-8000-000000000000"] {
        let reply = app
            .get(&status_uri(&parent, &format!("?after={cursor}")))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{cursor}");
        let page = reply.json();
        assert_eq!(page["activity"]["uuid"], parent.as_str());
        assert_eq!(messages(&page), Vec::<String>::new(), "{cursor}");
    }
}

#[tokio::test]
async fn bad_status_page_queries_are_400_with_a_code() {
    let app = TestApp::seeded().await;
    let parent = newest_crud(&app).await;
    for (query, code) in [
        ("?limit=0", "invalid_limit"),
        ("?limit=-1", "invalid_limit"),
        ("?limit=1e3", "invalid_limit"),
        ("?limit=ten", "invalid_limit"),
        ("?after=not-a-uuid", "invalid_cursor"),
        // The query string is decoded lossily: a byte that is not UTF-8 makes no uuid.
        ("?after=%FF", "invalid_cursor"),
        ("?limit=%FF", "invalid_limit"),
    ] {
        let reply = app.get(&status_uri(&parent, query)).await;
        assert_eq!(
            (reply.status, reply.codes()),
            (StatusCode::BAD_REQUEST, vec![code.to_owned()]),
            "{query}"
        );
    }
}

#[tokio::test]
async fn a_crud_with_twenty_thousand_long_replies_leaves_every_page_small() {
    let app = TestApp::seeded().await;
    let parent = newest_crud(&app).await;
    // 20,000 replies of 1,024 characters: about 20 MB of replies on one crud.
    add_replies(&app, &parent, 20_000, 1_014).await;

    let feed = app.home("").await;
    assert_eq!(feed.status, StatusCode::OK);
    let items = feed.json();
    assert_eq!(items[0]["uuid"], parent.as_str());
    assert_eq!(items[0]["replies_count"], 20_000);
    assert_eq!(
        messages(&items[0]),
        ["reply 19998", "reply 19999", "reply 20000"].map(|m| format!("{m}{}", "x".repeat(1_014))),
        "the newest three, oldest first"
    );
    assert!(feed.body.len() < 100_000, "feed: {} bytes", feed.body.len());

    let user = app.get("/api/activities/@andrewbrown").await;
    assert_eq!(user.status, StatusCode::OK);
    assert!(
        user.body.len() < 100_000,
        "user page: {} bytes",
        user.body.len()
    );

    let status = app.get(&status_uri(&parent, "")).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.json()["replies"].as_array().unwrap().len(), 20);
    assert!(
        status.body.len() < 100_000,
        "status page: {} bytes",
        status.body.len()
    );
    let largest = app.get(&status_uri(&parent, "?limit=100")).await;
    assert_eq!(largest.json()["replies"].as_array().unwrap().len(), 100);
    assert!(
        largest.body.len() < 200_000,
        "status page of 100: {} bytes",
        largest.body.len()
    );
}
