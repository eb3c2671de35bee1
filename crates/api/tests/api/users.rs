use axum::http::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn a_users_page_has_profile_and_their_cruds_newest_first() {
    let app = TestApp::seeded().await;
    app.create("newer", "1-day", "andrewbrown").await;
    app.create("not mine", "1-day", "bayko").await;
    app.sql("UPDATE users SET bio = 'Cloud is very fun!' WHERE handle = 'andrewbrown'")
        .await;
    let reply = app.get("/api/activities/@andrewbrown").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    let page = reply.json();
    assert_eq!(page["profile"]["handle"], "andrewbrown");
    assert_eq!(page["profile"]["display_name"], "Andrew Brown");
    assert_eq!(page["profile"]["bio"], "Cloud is very fun!");
    assert_eq!(page["profile"]["cruds_count"], 2);
    let activities = page["activities"].as_array().unwrap();
    let messages: Vec<&str> = activities
        .iter()
        .map(|a| a["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["newer", "This was imported as seed data!"]);
    assert!(activities
        .iter()
        .all(|a| a["replies"] == serde_json::json!([])));
}

#[tokio::test]
async fn an_unknown_handle_is_404_everywhere() {
    let app = TestApp::seeded().await;
    for uri in [
        "/api/activities/@nobody",
        "/api/users/@nobody/short",
        "/api/activities/@nobody/status/x",
        "/api/activities/@/status/x",
        "/api/activities/@bayko/status/00000000-0000-4000-8000-000000000000",
    ] {
        let reply = app.get(uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(reply.codes(), ["not_found"], "{uri}");
    }
}

#[tokio::test]
async fn the_short_form_has_uuid_handle_and_display_name_only() {
    let app = TestApp::seeded().await;
    let reply = app.get("/api/users/@bayko/short").await;
    assert_eq!(reply.status, StatusCode::OK);
    let short = reply.json();
    let keys: Vec<&String> = short.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["display_name", "handle", "uuid"]);
    assert_eq!(
        (short["handle"].as_str(), short["display_name"].as_str()),
        (Some("bayko"), Some("Andrew Bayko"))
    );
}

#[tokio::test]
async fn in_dev_mode_the_profile_update_names_its_user_and_reports_every_broken_rule() {
    let app = TestApp::seeded().await;
    let reply = app
        .post_json(
            "/api/profile/update",
            &serde_json::json!({"user_handle": "bayko", "display_name": " Bayko ", "bio": "Hi"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["display_name"], "Bayko");
    let page = app.get("/api/activities/@bayko").await.json();
    assert_eq!(page["profile"]["bio"], "Hi");

    let long_bio = "b".repeat(161);
    let reply = app
        .post_json(
            "/api/profile/update",
            &serde_json::json!({"display_name": "", "bio": long_bio}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.codes(),
        [
            "user_handle_blank",
            "display_name_blank",
            "bio_exceed_max_chars"
        ]
    );
    let reply = app
        .post_json(
            "/api/profile/update",
            &serde_json::json!({"user_handle": "nobody", "display_name": "N"}),
        )
        .await;
    assert_eq!(reply.codes(), ["user_not_found"]);
    let page = app.get("/api/activities/@bayko").await.json();
    assert_eq!(
        page["profile"]["display_name"], "Bayko",
        "refused updates change nothing"
    );
}

#[tokio::test]
async fn handles_are_found_whatever_their_case_and_answered_as_stored() {
    // Handles are unique without regard to case, so every lookup ignores it too.
    let app = TestApp::seeded().await;
    let page = app.get("/api/activities/@AndrewBrown").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.json()["profile"]["handle"], "andrewbrown");
    let short = app.get("/api/users/@BAYKO/short").await;
    assert_eq!(short.status, StatusCode::OK);
    assert_eq!(short.json()["handle"], "bayko");
    let created = app.create("case-blind", "1-day", "Bayko").await;
    assert_eq!(created.status, StatusCode::OK);
    assert_eq!(created.json()["handle"], "bayko");
    let uuid = created.json()["uuid"].as_str().unwrap().to_owned();
    let status = app
        .get(&format!("/api/activities/@BAYKO/status/{uuid}"))
        .await;
    assert_eq!(status.status, StatusCode::OK);
    let reply = app.reply(&uuid, "me too", "ANDREWBROWN").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["handle"], "andrewbrown");
}
