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
    let mut methods: Vec<&str> = methods.split(',').map(str::trim).collect();
    methods.sort_unstable();
    assert_eq!(
        methods,
        ["GET", "POST", "PUT"],
        "exactly the methods the routes use"
    );
    let headers = reply.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        headers.contains("authorization")
            && headers.contains("content-type")
            && headers.contains("idempotency-key"),
        "{headers}"
    );
}

#[tokio::test]
async fn the_frontend_may_read_the_retry_limit_and_request_id_headers() {
    let app = TestApp::seeded().await;
    let reply = app
        .send(
            axum::http::Request::post("/api/activities")
                .header(header::ORIGIN, FRONTEND)
                .header(header::CONTENT_TYPE, "application/json")
                .body(axum::body::Body::from(
                    r#"{"message":"hi","ttl":"1-day","user_handle":"bayko"}"#,
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let exposed = reply.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
        .to_str()
        .unwrap()
        .to_lowercase();
    let mut exposed: Vec<&str> = exposed.split(',').map(str::trim).collect();
    exposed.sort_unstable();
    assert_eq!(
        exposed,
        [
            "idempotent-replayed",
            "retry-after",
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
            "x-request-id"
        ]
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
            "/api/profile/update",
            "/api/users/@{handle}/short",
        ]
    );
    // Every documented operation reaches its handler: with real path values each answers the
    // status only its handler gives (the fallback would say 404 or 405), and documents it.
    let crud = app.home("").await.json()[0]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let expected = [
        ("get", "/api/activities/home", StatusCode::OK),
        ("post", "/api/activities", StatusCode::UNPROCESSABLE_ENTITY),
        ("get", "/api/activities/@{handle}", StatusCode::OK),
        (
            "get",
            "/api/activities/@{handle}/status/{uuid}",
            StatusCode::OK,
        ),
        (
            "post",
            "/api/activities/{uuid}/reply",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("get", "/api/health-check", StatusCode::OK),
        ("get", "/api/users/@{handle}/short", StatusCode::OK),
        (
            "put",
            "/api/profile/update",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "post",
            "/api/profile/update",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    let mut operations = 0;
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            operations += 1;
            let (_, _, status) = expected
                .iter()
                .find(|(m, p, _)| m == method && p == path)
                .unwrap_or_else(|| panic!("no expectation for {method} {path}"));
            let concrete = path
                .replace("{handle}", "andrewbrown")
                .replace("{uuid}", &crud);
            let reply = match method.as_str() {
                "get" => app.get(&concrete).await,
                "post" => {
                    app.post_json(&concrete, &Value::Object(Default::default()))
                        .await
                }
                "put" => {
                    app.send(
                        axum::http::Request::put(concrete.as_str())
                            .header(header::CONTENT_TYPE, "application/json")
                            .body(axum::body::Body::from("{}"))
                            .unwrap(),
                    )
                    .await
                }
                other => panic!("undocumented method {other}"),
            };
            assert_eq!(reply.status, *status, "{method} {path}");
            assert!(
                item[method]["responses"][status.as_str()].is_object(),
                "{method} {path} does not document {status}"
            );
        }
    }
    assert_eq!(operations, expected.len());
    // Every writing operation documents the answers all writes share (one list in the code).
    for (method, path) in [
        ("post", "/api/activities"),
        ("post", "/api/activities/{uuid}/reply"),
        ("put", "/api/profile/update"),
        ("post", "/api/profile/update"),
    ] {
        for status in ["400", "401", "403", "413", "415", "422", "429", "503"] {
            assert!(
                paths[path][method]["responses"][status].is_object(),
                "{method} {path} does not document {status}"
            );
        }
    }
}

#[tokio::test]
async fn the_documented_request_rules_are_the_domains() {
    let app = TestApp::empty().await;
    let doc = app.get("/api/openapi.json").await.json();
    let field =
        |schema: &str, name: &str| doc["components"]["schemas"][schema]["properties"][name].clone();
    for schema in [
        "CreateActivityRequest",
        "CreateReplyRequest",
        "ProfileUpdateRequest",
    ] {
        let handle = field(schema, "user_handle");
        assert_eq!(handle["pattern"], domain::HANDLE_PATTERN, "{schema}");
        assert_eq!(handle["maxLength"], domain::MAX_HANDLE_CHARS, "{schema}");
        assert!(
            doc["components"]["schemas"][schema]["required"].is_null(),
            "{schema}: a missing field is a rule broken, not a decode error"
        );
    }
    assert_eq!(
        field("CreateActivityRequest", "message")["maxLength"],
        domain::MAX_CRUD_CHARS
    );
    assert_eq!(
        field("CreateReplyRequest", "message")["maxLength"],
        domain::MAX_REPLY_CHARS
    );
    assert_eq!(
        field("ProfileUpdateRequest", "display_name")["maxLength"],
        domain::MAX_DISPLAY_NAME_CHARS
    );
    assert_eq!(
        field("ProfileUpdateRequest", "bio")["maxLength"],
        domain::MAX_BIO_CHARS
    );
    assert_eq!(
        field("CreateActivityRequest", "ttl")["pattern"],
        format!("^({})$", domain::Ttl::names().join("|"))
    );
}

/// DNS rebinding: a page on another site re-points its own name at 127.0.0.1 and calls the
/// dev-mode server through it, with that name in `Host`. Dev mode answers loopback names only.
#[tokio::test]
async fn dev_mode_answers_only_loopback_host_names() {
    use axum::body::Body;
    use axum::http::Request;

    let create = |host: &str| {
        Request::post("/api/activities")
            .header(header::HOST, host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                serde_json::json!({"message": "via host", "ttl": "1-day", "user_handle": "bayko"})
                    .to_string(),
            ))
            .unwrap()
    };
    let read = |host: &str, path: &str| {
        Request::get(path)
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap()
    };
    // With the feed cache, so the fast lane in front of the routes is covered too.
    let (app, _cache) = TestApp::with_feed_cache().await;
    for host in [
        "localhost:4567",
        "127.0.0.1:4567",
        "[::1]:4567",
        "localhost",
    ] {
        assert_eq!(
            app.send(create(host)).await.status,
            StatusCode::OK,
            "{host}"
        );
    }
    let before = app.count_activities().await;
    for host in [
        "rebound.example:4567",
        "rebound.example",
        "127.0.0.1.rebound.example",
    ] {
        for request in [
            create(host),
            read(host, "/api/activities/home"),
            read(host, "/"),
        ] {
            let refused = app.send(request).await;
            assert_eq!(
                (refused.status, refused.codes()),
                (StatusCode::FORBIDDEN, vec!["host_not_allowed".to_owned()]),
                "{host}"
            );
        }
    }
    assert_eq!(
        app.count_activities().await,
        before,
        "refused: nothing written"
    );

    // Dev mode opened to the network on purpose is reached by names of the operator's choosing.
    let open = TestApp::seeded_with(|config| {
        config.author = api::AuthorConfig::Dev {
            allow_on_network: true,
        };
    })
    .await;
    assert_eq!(
        open.send(create("devbox.internal:4567")).await.status,
        StatusCode::OK
    );
}
