//! The real `post-confirmation` binary against a tiny Lambda Runtime API emulator.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use test_db::TestDb;
use tokio::sync::mpsc;

use crate::example_event;

const GUARD: Duration = Duration::from_secs(30);

/// What the function reported for one invocation.
#[derive(Debug)]
enum Outcome {
    Response(String, Value),
    Error(String, Value),
}

#[derive(Clone)]
struct Emulator {
    pending: Arc<Mutex<VecDeque<(String, Value)>>>,
    reports: mpsc::UnboundedSender<Outcome>,
}

async fn next(State(emulator): State<Emulator>) -> (HeaderMap, Json<Value>) {
    let queued = emulator.pending.lock().unwrap().pop_front();
    let Some((id, event)) = queued else {
        // No more work: hold the long poll, as the real Runtime API does.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        "lambda-runtime-aws-request-id",
        HeaderValue::from_str(&id).unwrap(),
    );
    headers.insert(
        "lambda-runtime-deadline-ms",
        HeaderValue::from_static("9999999999999"),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static(
            "arn:aws:lambda:us-east-1:123456789012:function:cruddur-post-confirmation",
        ),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        HeaderValue::from_static("Root=1-00000000-000000000000000000000000"),
    );
    (headers, Json(event))
}

// The runtime's bodies are JSON whatever their content type says, so they are read as bytes.
async fn response(State(emulator): State<Emulator>, Path(id): Path<String>, body: Bytes) {
    let _ = emulator.reports.send(Outcome::Response(
        id,
        serde_json::from_slice(&body).unwrap(),
    ));
}

async fn error(State(emulator): State<Emulator>, Path(id): Path<String>, body: Bytes) {
    let _ = emulator
        .reports
        .send(Outcome::Error(id, serde_json::from_slice(&body).unwrap()));
}

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one event through the real binary; returns what it reported.
async fn invoke(connection_url: &str, event: Value) -> Outcome {
    invoke_logged(connection_url, event).await.0
}

/// [`invoke`], and what the function logged.
async fn invoke_logged(connection_url: &str, event: Value) -> (Outcome, String) {
    invoke_with(&[("CONNECTION_URL", connection_url.to_owned())], event).await
}

/// Runs one event through the real binary with `envs`; what it reported and logged.
async fn invoke_with(envs: &[(&str, String)], event: Value) -> (Outcome, String) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let (reports, mut received) = mpsc::unbounded_channel();
    let emulator = Emulator {
        pending: Arc::new(Mutex::new(VecDeque::from([("req-1".to_owned(), event)]))),
        reports,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .with_state(emulator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let function = Function(
        Command::new(env!("CARGO_BIN_EXE_post-confirmation"))
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "cruddur-post-confirmation")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test-stream")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "/aws/lambda/cruddur-post-confirmation",
            )
            .env_remove("CONNECTION_URL")
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::from(log.reopen().unwrap()))
            .stderr(Stdio::from(log.reopen().unwrap()))
            .spawn()
            .unwrap(),
    );
    let outcome = tokio::time::timeout(GUARD, received.recv())
        .await
        .expect("the function must report within the bound")
        .unwrap();
    server.abort();
    drop(function);
    (outcome, std::fs::read_to_string(log.path()).unwrap())
}

#[tokio::test]
async fn the_binary_answers_an_event_with_the_event_and_records_the_user() {
    let db = TestDb::new().await;
    let input = example_event();
    match invoke(db.url().expose(), input.clone()).await {
        Outcome::Response(id, body) => {
            assert_eq!(id, "req-1");
            assert_eq!(body, input);
        }
        other => panic!("expected a response, got {other:?}"),
    }
    let handles: Vec<String> = db
        .client()
        .await
        .query("SELECT handle FROM users", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(handles, ["cruddurtester"]);
}

#[tokio::test]
async fn the_binary_reports_an_error_when_the_database_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://u:p@127.0.0.1:{port}/cruddur");
    let (outcome, log) = invoke_logged(&url, example_event()).await;
    match outcome {
        Outcome::Error(id, body) => {
            assert_eq!(id, "req-1");
            assert_eq!(body["errorType"], "DatabaseError");
            // Cognito shows this to the person signing up: a sentence and the request id, no
            // server message, address or role name; those stay in the function's log.
            assert_eq!(
                body["errorMessage"].as_str().unwrap(),
                format!("{} (request req-1).", post_confirmation::GENERIC_FAILURE)
            );
            assert!(log.contains("req-1"), "{log}");
            assert!(log.contains("database unavailable"), "{log}");
            assert!(!log.contains("cruddur.tester@example.com"), "{log}");
        }
        other => panic!("expected an error report, got {other:?}"),
    }
}

#[tokio::test]
async fn the_binary_reads_its_login_and_the_database_from_a_secret() {
    let db = TestDb::new().await;
    let url = url::Url::parse(db.url().expose()).unwrap();
    let region = test_db::moto::fresh_region();
    // Where and as whom, from the secret alone: no CONNECTION_URL, no password anywhere in the
    // function's environment.
    let arn = test_db::moto::create_secret(
        region,
        "cruddur/lambda",
        &serde_json::json!({
            "username": url.username(),
            "password": url.password().unwrap(),
            "host": "127.0.0.1",
            "port": url.port().unwrap(),
            "dbname": db.name(),
        })
        .to_string(),
    );
    let mut envs = test_db::moto::sdk_env(region);
    envs.push(("DB_AUTH", "secret".to_owned()));
    envs.push(("DB_SECRET_ARN", arn));
    let (outcome, log) = invoke_with(&envs, example_event()).await;
    assert!(
        matches!(&outcome, Outcome::Response(id, _) if id == "req-1"),
        "{outcome:?}: {log}"
    );
    assert!(!log.contains(url.password().unwrap()), "{log}");
    let recorded: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM users WHERE handle = 'cruddurtester'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 1);
}
