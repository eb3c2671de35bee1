//! Bad URLs, wrong passwords and unreachable servers: one line naming the problem, never the
//! password, and never a hang (each attempt is wrapped in a generous outer bound).

use std::net::TcpListener;
use std::time::Duration;

use db::{DatabaseUrl, DbError};
use test_db::TestDb;

const SECRET: &str = "hunter2-secret";
/// Far above the connect bound (connect_timeout + 1 s); only reached if something hangs.
const HANG_GUARD: Duration = Duration::from_secs(20);

async fn connect_error(url: &str) -> String {
    let settings = DatabaseUrl::new(url).parse().expect("URL parses");
    let outcome = tokio::time::timeout(HANG_GUARD, db::pool::connect(&settings))
        .await
        .expect("connect must give up on its own, not hang");
    let err = outcome.expect_err("connection must fail");
    let text = err.to_string();
    assert!(!text.contains(SECRET), "password leaked: {text}");
    assert!(!text.contains('\n'), "not one line: {text}");
    text
}

#[tokio::test]
async fn a_wrong_password_is_a_login_error_without_the_password() {
    let db = TestDb::new().await;
    let port = test_db::cluster().port();
    let text = connect_error(&format!(
        "postgres://postgres:{SECRET}@127.0.0.1:{port}/{}",
        db.name()
    ))
    .await;
    assert!(text.contains("password authentication failed"), "{text}");
}

#[tokio::test]
async fn a_closed_port_is_reported_as_unavailable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let settings = DatabaseUrl::new(format!("postgres://u:{SECRET}@127.0.0.1:{port}/db"))
        .parse()
        .unwrap();
    let err = tokio::time::timeout(HANG_GUARD, db::pool::connect(&settings))
        .await
        .unwrap()
        .unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("refused"), "{text}");
    assert!(!text.contains(SECRET));
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts the TCP connection (the kernel does) but never speaks the protocol. TCP connects
    // at once, so `connect_timeout=1` never fires: connect()'s own bound (1 s + 1 s for the
    // startup exchange) is what ends it.
    let started = std::time::Instant::now();
    let text = connect_error(&format!(
        "postgres://u:{SECRET}@127.0.0.1:{port}/db?connect_timeout=1"
    ))
    .await;
    let elapsed = started.elapsed();
    assert_eq!(
        text,
        "database unavailable: no answer from the server within 2 s"
    );
    assert!(
        elapsed >= Duration::from_millis(1_900) && elapsed < Duration::from_secs(6),
        "gave up after {elapsed:?}, not at its 2 s bound"
    );
    drop(listener);
}

#[tokio::test]
async fn an_unknown_database_is_named() {
    let port = test_db::cluster().port();
    let url = test_db::cluster().url("postgres").unwrap();
    let password = url::Url::parse(url.expose())
        .unwrap()
        .password()
        .unwrap()
        .to_owned();
    let text = connect_error(&format!(
        "postgres://postgres:{password}@127.0.0.1:{port}/no_such_db"
    ))
    .await;
    assert!(text.contains("no_such_db"), "{text}");
    assert!(!text.contains(&password));
}

#[test]
fn malformed_urls_fail_to_parse_with_a_reason_and_no_password() {
    for raw in [
        format!("postgres://u:{SECRET}@h:99999/db"),
        format!("http://u:{SECRET}@h/db"),
        format!("postgres://u:{SECRET}@h/db?sslmode=bogus"),
    ] {
        let err = DatabaseUrl::new(&raw).parse().unwrap_err().to_string();
        assert!(!err.contains(SECRET), "{err}");
        assert!(!err.is_empty());
    }
}

#[tokio::test]
async fn pool_checkout_against_a_dead_server_is_unavailable_within_the_acquire_bound() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let settings = DatabaseUrl::new(format!("postgres://u:{SECRET}@127.0.0.1:{port}/db"))
        .parse()
        .unwrap();
    let pool = db::pool::build_pool(&settings, &db::PoolSettings::default()).unwrap();
    let err = tokio::time::timeout(HANG_GUARD, db::pool::checkout(&pool))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(err, DbError::Unavailable { .. }), "{err:?}");
}
