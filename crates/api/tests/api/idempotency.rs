//! `Idempotency-Key` on create and reply: a retry answers the first result, another body under
//! the same key is 422, a key that breaks the rule is 400, and no key changes nothing.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Reply, TestApp};

async fn keyed(app: &TestApp, uri: &str, key: Option<&str>, body: &Value) -> Reply {
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    app.send(request.body(Body::from(body.to_string())).unwrap())
        .await
}

fn crud(message: &str) -> Value {
    json!({"message": message, "ttl": "1-day", "user_handle": "bayko"})
}

#[tokio::test]
async fn a_retried_create_answers_the_first_crud_and_writes_nothing_more() {
    let app = TestApp::seeded().await;
    let before = app.count_activities().await;
    let key = Some("9b2f7c4e-1a3d-4e5f-8a9b-0c1d2e3f4a5b");
    let first = keyed(&app, "/api/activities", key, &crud("only once")).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.json());
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = keyed(&app, "/api/activities", key, &crud("only once")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json(), first.json(), "the first answer, again");
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other = keyed(&app, "/api/activities", key, &crud("something else")).await;
    assert_eq!(
        (other.status, other.codes()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["idempotency_key_reused".to_owned()]
        )
    );
    assert_eq!(app.count_activities().await, before + 1);
    // Without a key, the same body is another crud, as before keys existed.
    for _ in 0..2 {
        assert_eq!(
            keyed(&app, "/api/activities", None, &crud("only once"))
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(app.count_activities().await, before + 3);
}

#[tokio::test]
async fn a_retried_reply_answers_the_first_reply() {
    let app = TestApp::seeded().await;
    let parent = keyed(&app, "/api/activities", Some("parent"), &crud("parent")).await;
    let uri = format!(
        "/api/activities/{}/reply",
        parent.json()["uuid"].as_str().unwrap()
    );
    let reply = json!({"message": "re", "user_handle": "andrewbrown"});
    let first = keyed(&app, &uri, Some("reply-key"), &reply).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.json());
    let again = keyed(&app, &uri, Some("reply-key"), &reply).await;
    assert_eq!(again.json(), first.json());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let reused = keyed(
        &app,
        &uri,
        Some("reply-key"),
        &json!({"message": "other", "user_handle": "andrewbrown"}),
    )
    .await;
    assert_eq!(reused.codes(), ["idempotency_key_reused"]);
    let shown = app
        .get(&format!(
            "/api/activities/@bayko/status/{}",
            parent.json()["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(shown.json()["activity"]["replies_count"], 1);
    assert_eq!(shown.json()["replies"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_key_breaking_the_rule_is_400_and_writes_nothing() {
    let app = TestApp::seeded().await;
    let before = app.count_activities().await;
    for bad in ["", "has space", &"k".repeat(256)] {
        let refused = keyed(&app, "/api/activities", Some(bad), &crud("keyed badly")).await;
        assert_eq!(
            (refused.status, refused.codes()),
            (
                StatusCode::BAD_REQUEST,
                vec!["idempotency_key_invalid".to_owned()]
            ),
            "{bad:?}"
        );
    }
    // Two keys on one request: which one would count? Neither.
    let twice = app
        .send(
            Request::post("/api/activities")
                .header(header::CONTENT_TYPE, "application/json")
                .header("idempotency-key", "a")
                .header("idempotency-key", "b")
                .body(Body::from(crud("two keys").to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(twice.codes(), ["idempotency_key_invalid"]);
    assert_eq!(app.count_activities().await, before);
}
