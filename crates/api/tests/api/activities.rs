use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{timestamp, TestApp};

const FEED_KEYS: [&str; 11] = [
    "uuid",
    "display_name",
    "handle",
    "message",
    "replies_count",
    "reposts_count",
    "likes_count",
    "reply_to_activity_uuid",
    "expires_at",
    "created_at",
    "replies",
];

#[tokio::test]
async fn health_check_reports_success_when_the_database_answers() {
    let app = TestApp::empty().await;
    let reply = app.get("/api/health-check").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!({"success": true, "ver": 1}));
}

#[tokio::test]
async fn home_feed_returns_the_seed_crud_with_every_field_and_empty_replies() {
    let app = TestApp::seeded().await;
    let reply = app.home("").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    let items = reply.json();
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 1);
    let item = items[0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut expected = FEED_KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(item["handle"], "andrewbrown");
    assert_eq!(item["display_name"], "Andrew Brown");
    assert_eq!(item["message"], "This was imported as seed data!");
    assert_eq!(item["replies"], json!([]));
    assert_eq!(item["replies_count"], 0);
    assert_eq!(item["reply_to_activity_uuid"], Value::Null);
    let lifetime = timestamp(&item["expires_at"]) - timestamp(&item["created_at"]);
    assert_eq!(lifetime.num_days(), 10);
}

#[tokio::test]
async fn expired_cruds_are_absent_from_the_feed() {
    let app = TestApp::seeded().await;
    app.create("still here", "1-hour", "bayko").await;
    app.create("gone soon", "1-hour", "bayko").await;
    app.sql("UPDATE activities SET expires_at = now() - interval '1 second' WHERE message = 'gone soon'")
        .await;
    let messages: Vec<String> = app
        .home("")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(messages, ["still here", "This was imported as seed data!"]);
}

#[tokio::test]
async fn limit_defaults_to_20_caps_at_100_and_rejects_nonsense() {
    let app = TestApp::empty().await;
    db::seeds::seed_demo(&mut app.db.client().await, 150)
        .await
        .unwrap();
    let len = |r: crate::helpers::Reply| r.json().as_array().unwrap().len();
    assert_eq!(len(app.home("").await), 20);
    assert_eq!(len(app.home("?limit=5").await), 5);
    assert_eq!(len(app.home("?limit=1000").await), 100);
    for bad in ["?limit=0", "?limit=-3", "?limit=abc"] {
        let reply = app.home(bad).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(reply.codes(), ["invalid_limit"], "{bad}");
    }
    let reply = app.home("?before=not-a-uuid").await;
    assert_eq!(
        (reply.status, reply.codes()),
        (StatusCode::BAD_REQUEST, vec!["invalid_cursor".to_owned()])
    );
}

fn uuids(reply: &crate::helpers::Reply) -> Vec<String> {
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["uuid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn cursor_paging_has_no_duplicates_or_gaps_while_cruds_arrive() {
    let app = TestApp::seeded().await;
    db::seeds::seed_demo(&mut app.db.client().await, 45)
        .await
        .unwrap();
    let everything_before = uuids(&app.home("?limit=100").await);
    assert_eq!(everything_before.len(), 46);

    let mut seen = uuids(&app.home("?limit=20").await);
    for n in 0..5 {
        app.create(&format!("arrived meanwhile {n}"), "1-day", "bayko")
            .await;
    }
    loop {
        let last = seen.last().unwrap().clone();
        let page = uuids(&app.home(&format!("?limit=20&before={last}")).await);
        if page.is_empty() {
            break;
        }
        seen.extend(page);
        assert!(seen.len() <= 46, "paging must end");
    }
    assert_eq!(
        seen, everything_before,
        "same cruds, same order, none twice"
    );
}

#[tokio::test]
async fn an_unknown_cursor_gives_an_empty_page() {
    let app = TestApp::seeded().await;
    let reply = app
        .home("?before=00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json(), json!([]));
}

#[tokio::test]
async fn a_created_crud_is_returned_and_comes_first_in_the_feed() {
    let app = TestApp::seeded().await;
    let reply = app.create("Hello from the tests", "7-days", "bayko").await;
    assert_eq!(reply.status, StatusCode::OK);
    let created = reply.json();
    assert_eq!(created["handle"], "bayko");
    assert_eq!(created["display_name"], "Andrew Bayko");
    assert_eq!(created["message"], "Hello from the tests");
    assert_eq!(created["replies"], json!([]));
    let lifetime = timestamp(&created["expires_at"]) - timestamp(&created["created_at"]);
    assert_eq!(lifetime.num_seconds(), 7 * 24 * 3600);
    let feed = app.home("").await.json();
    assert_eq!(feed[0]["uuid"], created["uuid"]);
    assert_eq!(feed.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn every_ttl_is_accepted_and_sets_expires_at_by_the_database_clock() {
    let app = TestApp::seeded().await;
    for ttl in domain::Ttl::ALL {
        let created = app.create("ttl check", ttl.as_str(), "bayko").await.json();
        let lifetime = timestamp(&created["expires_at"]) - timestamp(&created["created_at"]);
        assert_eq!(lifetime.num_seconds(), ttl.seconds(), "{ttl}");
    }
}

#[tokio::test]
async fn every_combination_of_invalid_fields_reports_all_rules_in_order() {
    let app = TestApp::seeded().await;
    let long = "x".repeat(281);
    for mask in 1..8u8 {
        let ttl = if mask & 1 != 0 {
            json!("2-weeks")
        } else {
            json!("1-day")
        };
        let user = if mask & 2 != 0 {
            json!("")
        } else {
            json!("bayko")
        };
        let message = if mask & 4 != 0 {
            json!(long)
        } else {
            json!("ok")
        };
        let mut expected = Vec::new();
        if mask & 1 != 0 {
            expected.push("ttl_blank");
        }
        if mask & 2 != 0 {
            expected.push("user_handle_blank");
        }
        if mask & 4 != 0 {
            expected.push("message_exceed_max_chars");
        }
        let reply = app
            .post_json(
                "/api/activities",
                &json!({"ttl": ttl, "user_handle": user, "message": message}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "mask {mask}"
        );
        assert_eq!(reply.codes(), expected, "mask {mask}");
    }
    assert_eq!(app.count_activities().await, 1, "nothing written");
}

#[tokio::test]
async fn missing_keys_and_wrong_types_are_validation_errors() {
    let app = TestApp::seeded().await;
    let reply = app.post_json("/api/activities", &json!({})).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        reply.codes(),
        ["ttl_blank", "user_handle_blank", "message_blank"]
    );
    let reply = app
        .post_json(
            "/api/activities",
            &json!({"ttl": 7, "user_handle": ["bayko"], "message": "   "}),
        )
        .await;
    assert_eq!(
        reply.codes(),
        ["ttl_blank", "user_handle_blank", "message_blank"]
    );
    assert_eq!(app.count_activities().await, 1);
}

#[tokio::test]
async fn length_counts_characters_280_emoji_pass_281_fail() {
    let app = TestApp::seeded().await;
    let at_limit = "🦀".repeat(280);
    let reply = app.create(&at_limit, "1-day", "bayko").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["message"], at_limit.as_str());
    let over = format!("{at_limit}é");
    let reply = app.create(&over, "1-day", "bayko").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.codes(), ["message_exceed_max_chars"]);
}

#[tokio::test]
async fn injection_strings_are_stored_and_returned_verbatim() {
    let app = TestApp::seeded().await;
    let nasty = [
        "'); DROP TABLE activities; --",
        "Robert'); DELETE FROM users WHERE ('1'='1",
        "\" OR 1=1 --",
        "$1 $2 %s {} \\ \\\\ ' '' \"",
    ];
    for message in nasty {
        let created = app.create(message, "1-day", "bayko").await;
        assert_eq!(created.status, StatusCode::OK, "{message}");
        assert_eq!(created.json()["message"], message);
    }
    let stored: Vec<String> = app
        .db
        .client()
        .await
        .query("SELECT message FROM activities ORDER BY created_at", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(&stored[1..], nasty);
    assert_eq!(stored.len(), 5, "no table lost, nothing extra");
}

#[tokio::test]
async fn an_injection_string_as_handle_is_an_invalid_handle_and_writes_nothing() {
    // Quotes and spaces are outside the handle alphabet, so these never reach SQL as handles.
    let app = TestApp::seeded().await;
    for handle in ["bayko' OR '1'='1", "bayko'--"] {
        let reply = app.create("hi", "1-day", handle).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{handle}");
        assert_eq!(reply.codes(), ["user_handle_blank"], "{handle}");
    }
    assert_eq!(app.count_activities().await, 1);
}

#[tokio::test]
async fn an_unknown_author_is_422_user_not_found_and_writes_nothing() {
    let app = TestApp::seeded().await;
    let reply = app.create("hello?", "1-day", "nobody").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.codes(), ["user_not_found"]);
    assert_eq!(app.count_activities().await, 1);
}

#[tokio::test]
async fn a_nul_character_is_a_422_not_a_500() {
    let app = TestApp::seeded().await;
    let reply = app.create("before\u{0}after", "1-day", "bayko").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.codes(), ["message_invalid_characters"]);
    assert_eq!(app.count_activities().await, 1);
}
