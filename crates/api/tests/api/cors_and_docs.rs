use axum::http::{header, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, FRONTEND};

#[tokio::test]
async fn preflight_from_the_frontend_is_answered_with_its_origin_and_headers() {
    let app = TestApp::empty().await;
    let reply = app.options("/api/activities", FRONTEND).await;
    assert!(reply.status.is_success(), "{:?}", reply.status);
    assert_eq!(reply.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], FRONTEND);
    let methods = reply.headers[header::ACCESS_CONTROL_ALLOW_METHODS]
        .to_str()
        .unwrap()
        .to_owned();
    for m in ["GET", "POST", "PUT", "OPTIONS"] {
        assert!(methods.contains(m), "{methods}");
    }
    let headers = reply.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_permission() {
    let app = TestApp::empty().await;
    let reply = app.options("/api/activities", "http://evil.example").await;
    assert!(!reply
        .headers
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
}

#[tokio::test]
async fn the_openapi_document_lists_every_route_and_each_one_is_routed() {
    let app = TestApp::seeded().await;
    let reply = app.get("/api/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc = reply.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort_unstable();
    assert_eq!(
        listed,
        [
            "/api/activities",
            "/api/activities/@{handle}",
            "/api/activities/@{handle}/status/{uuid}",
            "/api/activities/home",
            "/api/activities/{uuid}/reply",
            "/api/health-check",
            "/api/users/@{handle}/short",
        ]
    );
    // Every documented operation reaches a handler (never the fallback's 404/405).
    for (path, item) in paths {
        let concrete = path
            .replace("{handle}", "andrewbrown")
            .replace("{uuid}", "00000000-0000-4000-8000-000000000000");
        for method in item.as_object().unwrap().keys() {
            let reply = match method.as_str() {
                "get" => app.get(&concrete).await,
                "post" => {
                    app.post_json(&concrete, &Value::Object(Default::default()))
                        .await
                }
                other => panic!("undocumented method {other}"),
            };
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            if reply.status == StatusCode::NOT_FOUND {
                // Only resource lookups may 404, and they say so with the same code.
                assert!(path.contains('{'), "{method} {path} is not routed");
            }
        }
    }
}
