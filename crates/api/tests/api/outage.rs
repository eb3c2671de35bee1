//! The database going away and coming back, and one test over a real socket.

use std::net::TcpListener;
use std::time::Duration;

use axum::http::StatusCode;
use local_cluster::Durability;
use test_db::OwnCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{router_on, Serving, TestApp};

/// Far above the pool's acquire bound; only reached if a request hangs.
const HANG_GUARD: Duration = Duration::from_secs(20);

async fn get_with_guard(router: &axum::Router, uri: &str) -> (StatusCode, Vec<String>) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::get(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tokio::time::timeout(HANG_GUARD, router.clone().oneshot(request))
        .await
        .expect("a request must not hang while the database is down")
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let codes = serde_json::from_slice::<Vec<String>>(&body).unwrap_or_default();
    (status, codes)
}

#[tokio::test]
async fn an_unreachable_database_is_503_database_unavailable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let settings = db::DatabaseUrl::new(format!("postgres://u:p@127.0.0.1:{port}/db"))
        .parse()
        .unwrap();
    let mut database = db::DatabaseConfig::direct(settings);
    database.pool.acquire_timeout = Duration::from_millis(500);
    let router = router_on(database).await;
    let (status, codes) = get_with_guard(&router, "/api/activities/home").await;
    assert_eq!(
        (status, codes),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            vec!["database_unavailable".to_owned()]
        )
    );
    let (status, _) = get_with_guard(&router, "/api/health-check").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn the_server_recovers_when_the_database_comes_back() {
    let own = OwnCluster::start(Durability::Ephemeral, true).await;
    let cluster = own.cluster.clone();
    let settings = own.url(test_db::OWN_DATABASE).parse().unwrap();
    let mut database = db::DatabaseConfig::direct(settings);
    database.pool.acquire_timeout = Duration::from_millis(500);
    let router = router_on(database).await;
    assert_eq!(
        get_with_guard(&router, "/api/activities/home").await.0,
        StatusCode::OK
    );

    cluster.stop().unwrap();
    let (status, codes) = get_with_guard(&router, "/api/activities/home").await;
    assert_eq!(
        (status, codes),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            vec!["database_unavailable".to_owned()]
        )
    );

    let again = cluster.start().unwrap();
    assert_eq!(
        again.port, own.port,
        "same port, so the pool's URL still holds"
    );
    // Pooled connections broken by the restart are discarded; a bounded number of tries.
    let mut last = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..5 {
        last = get_with_guard(&router, "/api/activities/home").await.0;
        if last == StatusCode::OK {
            break;
        }
    }
    assert_eq!(
        last,
        StatusCode::OK,
        "the same router serves again without a restart"
    );
    drop(own);
}

#[tokio::test]
async fn the_api_answers_over_a_real_socket_on_port_0() {
    let TestApp {
        db: _db, service, ..
    } = TestApp::seeded().await;
    let server = Serving::start(service);
    let addr = server.addr;
    let mut stream = tokio::time::timeout(HANG_GUARD, tokio::net::TcpStream::connect(addr))
        .await
        .unwrap()
        .unwrap();
    stream
        .write_all(
            b"GET /api/activities/home HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(HANG_GUARD, stream.read_to_string(&mut response))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(server.stop().await, api::server::Drain::Complete);
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(
        response.contains("This was imported as seed data!"),
        "{response}"
    );
}
