//! The server's limits, on routes of the test's own put under exactly the server's layers: a
//! handler that panics, one that outlives the request timeout, and more requests than the
//! in-flight cap.

use std::time::Duration;

use api::limits::Limits;
use api::RouterOptions;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;
use tower::ServiceExt;

async fn answer(app: &Router, uri: &str) -> (StatusCode, Option<String>, Vec<String>) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let retry = response
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, retry, serde_json::from_slice(&body).unwrap())
}

fn hardened(routes: Router, limits: Limits) -> Router {
    api::serve_layers(
        routes,
        &RouterOptions {
            limits,
            ..RouterOptions::default()
        },
    )
}

#[tokio::test]
async fn a_panicking_handler_is_a_json_500_and_the_server_goes_on() {
    let routes = Router::new()
        .route(
            "/boom",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("deliberate");
                }
                "[]"
            }),
        )
        .route("/fine", get(|| async { "[]" }));
    let app = hardened(routes, Limits::default());
    let (status, _, codes) = answer(&app, "/boom").await;
    assert_eq!(
        (status, codes),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            vec!["internal_error".to_owned()]
        )
    );
    let fine = app
        .oneshot(Request::get("/fine").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(fine.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_past_the_timeout_is_a_json_503_timeout() {
    let routes = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "[]"
        }),
    );
    let limits = Limits {
        request_timeout: Duration::from_millis(100),
        ..Limits::default()
    };
    let app = hardened(routes, limits);
    let (status, _, codes) = answer(&app, "/slow").await;
    assert_eq!(
        (status, codes),
        (StatusCode::SERVICE_UNAVAILABLE, vec!["timeout".to_owned()])
    );
}

#[tokio::test]
async fn past_the_in_flight_cap_requests_are_shed_at_once_with_retry_after() {
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let release = std::sync::Arc::new(tokio::sync::Mutex::new(Some(release_rx)));
    let (started_tx, started_rx) = oneshot::channel::<()>();
    let started = std::sync::Arc::new(std::sync::Mutex::new(Some(started_tx)));
    let routes = Router::new().route(
        "/hold",
        get(move || {
            let release = release.clone();
            let started = started.clone();
            async move {
                if let Some(tx) = started.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                if let Some(rx) = release.lock().await.take() {
                    let _ = rx.await;
                }
                "[]"
            }
        }),
    );
    let limits = Limits {
        max_in_flight: 1,
        ..Limits::default()
    };
    let app = hardened(routes, limits);
    let holder = {
        let app = app.clone();
        tokio::spawn(async move { answer(&app, "/hold").await })
    };
    started_rx.await.unwrap();
    let (status, retry, codes) = answer(&app, "/hold").await;
    assert_eq!(
        (status, codes),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            vec!["overloaded".to_owned()]
        )
    );
    assert_eq!(retry.as_deref(), Some("1"));
    let (status, _, _) = answer(&app, "/no/such/route").await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "the fallback is under the cap too"
    );
    release_tx.send(()).unwrap();
    let (status, _, _) = holder.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = answer(&app, "/hold").await;
    assert_eq!(status, StatusCode::OK, "a slot is free again");
}
