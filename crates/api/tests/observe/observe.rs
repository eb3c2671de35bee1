//! Requests can be followed: one INFO line per request (method, route template, status,
//! latency, request id), `x-request-id` accepted or generated and echoed, a created crud logged
//! inside its request's span, an error's cause logged once, on the request's line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Reply, TestApp};

/// Every event of the test's thread as JSON lines (the test runtime is single-threaded, so the
/// create queue's tasks log here too).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sink = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The lines logged inside the request with this id.
    fn of_request(&self, id: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|l| l["span"]["request_id"] == id)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn get_with_id(app: &TestApp, uri: &str, id: Option<&str>) -> Reply {
    let mut request = Request::get(uri);
    if let Some(id) = id {
        request = request.header("x-request-id", id);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

fn echoed_id(reply: &Reply) -> String {
    reply.headers["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_request_is_one_info_line_with_route_status_latency_and_its_id() {
    let app = TestApp::seeded().await;
    let logs = Captured::default();
    let _guard = logs.install();
    let reply = get_with_id(&app, "/api/activities/@andrewbrown", Some("trace-me-1")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(echoed_id(&reply), "trace-me-1");
    let lines = logs.of_request("trace-me-1");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["message"], "request");
    assert_eq!(line["fields"]["status"], 200);
    assert!(line["fields"]["latency_us"].is_u64(), "{line}");
    assert_eq!(line["span"]["method"], "GET");
    assert_eq!(line["span"]["route"], "/api/activities/@{handle}");
}

#[tokio::test]
async fn a_missing_or_unfit_request_id_is_replaced_by_a_generated_one() {
    let app = TestApp::seeded().await;
    let logs = Captured::default();
    let _guard = logs.install();
    let too_long = "x".repeat(65);
    for sent in [None, Some("has space"), Some(too_long.as_str())] {
        let reply = get_with_id(&app, "/api/health-check", sent).await;
        let id = echoed_id(&reply);
        assert!(Uuid::parse_str(&id).is_ok(), "{sent:?} -> {id}");
        assert_eq!(logs.of_request(&id).len(), 1, "{sent:?}");
    }
    let unmatched = get_with_id(&app, "/no/such/route", Some("lost-1")).await;
    assert_eq!(unmatched.status, StatusCode::NOT_FOUND);
    let lines = logs.of_request("lost-1");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["span"]["route"], "unmatched");
    assert_eq!(lines[0]["fields"]["status"], 404);
}

#[tokio::test]
async fn the_feeds_fast_lane_logs_and_ids_its_requests_like_every_route() {
    let (app, cache) = TestApp::with_feed_cache().await;
    app.home("").await;
    let logs = Captured::default();
    let _guard = logs.install();
    let before = cache.fast_answers();
    let reply = get_with_id(&app, "/api/activities/home", Some("lane-1")).await;
    assert_eq!(cache.fast_answers(), before + 1, "the fast lane answered");
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(echoed_id(&reply), "lane-1");
    let lines = logs.of_request("lane-1");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["level"], "INFO");
    assert_eq!(lines[0]["fields"]["message"], "request");
    assert_eq!(lines[0]["fields"]["status"], 200);
    assert!(lines[0]["fields"]["latency_us"].is_u64(), "{}", lines[0]);
    assert_eq!(lines[0]["span"]["method"], "GET");
    assert_eq!(lines[0]["span"]["route"], "/api/activities/home");
    for sent in [None, Some("has space")] {
        let reply = get_with_id(&app, "/api/activities/home", sent).await;
        let id = echoed_id(&reply);
        assert!(Uuid::parse_str(&id).is_ok(), "{sent:?} -> {id}");
        assert_eq!(logs.of_request(&id).len(), 1, "{sent:?}");
    }
    assert_eq!(cache.fast_answers(), before + 3);
}

#[tokio::test]
async fn a_created_crud_is_logged_inside_its_requests_span() {
    let app = TestApp::seeded().await;
    let logs = Captured::default();
    let _guard = logs.install();
    let reply = app
        .send(
            Request::post("/api/activities")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-request-id", "create-1")
                .body(Body::from(
                    r#"{"message":"followed","ttl":"1-day","user_handle":"bayko"}"#,
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let uuid = reply.json()["uuid"].as_str().unwrap().to_owned();
    let lines = logs.of_request("create-1");
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["fields"]["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["activity created", "request"],
        "{lines:?} / all: {:?}",
        logs.lines()
    );
    assert_eq!(lines[0]["fields"]["activity_uuid"], uuid.as_str());
    assert_eq!(lines[0]["span"]["route"], "/api/activities");
}

#[tokio::test]
async fn a_server_error_is_logged_once_on_the_request_line_and_never_in_the_body() {
    let app = TestApp::seeded().await;
    // A schema the statement no longer fits: an unexpected database error, so a 500.
    app.sql("ALTER VIEW live_activities RENAME TO gone_activities")
        .await;
    let logs = Captured::default();
    let _guard = logs.install();
    let reply = get_with_id(&app, "/api/activities/home", Some("broken-1")).await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(reply.codes(), ["internal_error"]);
    let mentioning: Vec<Value> = logs
        .lines()
        .into_iter()
        .filter(|l| l.to_string().contains("live_activities"))
        .collect();
    assert_eq!(mentioning.len(), 1, "{mentioning:?}");
    let line = &mentioning[0];
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["fields"]["message"], "request");
    assert_eq!(line["fields"]["status"], 500);
    assert_eq!(line["span"]["request_id"], "broken-1");
}

/// A server on 127.0.0.1 that speaks just enough of the PostgreSQL protocol to refuse every
/// login with `sqlstate` (declining TLS first), as a real server does when it is full, starting
/// up, shutting down or failing over.
async fn postgres_refusing_with(sqlstate: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                loop {
                    let len = socket.read_u32().await.unwrap_or(0) as usize;
                    let mut body = vec![0u8; len.saturating_sub(4)];
                    if len < 8 || socket.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    if body[..4] == 80_877_103u32.to_be_bytes() {
                        let _ = socket.write_all(b"N").await; // SSLRequest: no TLS here
                        continue;
                    }
                    let mut fields = Vec::new();
                    for (tag, value) in [
                        (b'S', "FATAL"),
                        (b'V', "FATAL"),
                        (b'C', sqlstate),
                        (b'M', "refused by the test server"),
                    ] {
                        fields.push(tag);
                        fields.extend_from_slice(value.as_bytes());
                        fields.push(0);
                    }
                    fields.push(0);
                    let mut message = vec![b'E'];
                    message.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
                    message.extend_from_slice(&fields);
                    let _ = socket.write_all(&message).await;
                    return;
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn transient_database_errors_are_503_unavailable_logged_once_at_warn_with_the_sqlstate() {
    // Too many connections, out of memory, shutdown, crash recovery, starting up, connection
    // failure, read-only (a demoted primary), serialization failure.
    for sqlstate in [
        "53300", "53200", "57P01", "57P02", "57P03", "08006", "08004", "25006", "40001",
    ] {
        let port = postgres_refusing_with(sqlstate).await;
        let settings = db::DatabaseUrl::new(format!("postgres://u:p@127.0.0.1:{port}/db"))
            .parse()
            .unwrap();
        let router = crate::helpers::router_on(db::DatabaseConfig::direct(settings)).await;
        let logs = Captured::default();
        let guard = logs.install();
        let request = Request::get("/api/activities/home")
            .header("x-request-id", sqlstate)
            .body(Body::empty())
            .unwrap();
        let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
        drop(guard);
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{sqlstate}"
        );
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(&body[..], br#"["database_unavailable"]"#, "{sqlstate}");
        let lines = logs.of_request(sqlstate);
        assert_eq!(
            lines.len(),
            1,
            "{sqlstate}: one line per request: {lines:?}"
        );
        let line = &lines[0];
        assert_eq!(line["level"], "WARN", "{sqlstate}: {line}");
        let error = line["fields"]["error"].as_str().unwrap();
        assert!(
            error.contains(&format!("SQLSTATE {sqlstate}")),
            "{sqlstate}: {error}"
        );
    }
}
