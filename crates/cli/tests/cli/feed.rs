//! The feed cache across processes and the purge, against the real binary: a crud created
//! through one server shows on another's cached feed within the notification delay; `db purge`
//! and `serve --purge-every-secs` delete expired cruds.

use std::time::{Duration, Instant};

use predicates::prelude::*;
use test_db::TestDb;

use crate::cruddur;
use crate::serve::{http, start_serve};

fn home(addr: &str) -> String {
    http(
        addr,
        "GET /api/activities/home HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
}

#[tokio::test]
async fn a_crud_created_through_one_server_shows_on_the_others_cached_feed_at_once() {
    let db = TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap();
    let (_a, a) = start_serve(db.url().expose(), &[], &[]);
    let (_b, b) = start_serve(db.url().expose(), &[], &[]);
    // B serves its page from memory (its listener subscribes just after start).
    let from_memory = |answer: &str| answer.to_ascii_lowercase().contains("\r\nx-cache: hit\r\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !from_memory(&home(&b)) {
        assert!(Instant::now() < deadline, "B never served from its cache");
        std::thread::sleep(Duration::from_millis(20));
    }
    let body = r#"{"message":"through A","ttl":"1-day","user_handle":"bayko"}"#;
    let created = http(
        &a,
        &format!(
            "POST /api/activities HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    // "Well under a second": B hears of it through NOTIFY and reads the page anew.
    let heard_by = Instant::now() + Duration::from_secs(1);
    loop {
        if home(&b).contains("through A") {
            break;
        }
        assert!(
            Instant::now() < heard_by,
            "B still served its old page after 1 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

async fn insert_expired(db: &TestDb, n: i32) {
    db.client()
        .await
        .execute(
            "INSERT INTO activities (user_uuid, message, expires_at)
             SELECT uuid, 'gone ' || g, now() - interval '1 second'
             FROM users, generate_series(1, $1) g WHERE handle = 'bayko'",
            &[&n],
        )
        .await
        .unwrap();
}

async fn expired_left(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one(
            "SELECT count(*) FROM activities WHERE expires_at <= now()",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn db_purge_deletes_expired_cruds_in_bounded_runs() {
    let db = TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap();
    insert_expired(&db, 30).await;
    cruddur()
        .args(["db", "purge", "--batch", "10", "--max-batches", "2"])
        .env("CONNECTION_URL", db.url().expose())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "purged 20 expired crud(s) in 2 batch(es), 0 idempotency key(s) older than 24 h and 0 ended sign-in session(s); more are left",
        ));
    assert_eq!(expired_left(&db).await, 10);
    cruddur()
        .args(["db", "purge"])
        .env("CONNECTION_URL", db.url().expose())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "purged 10 expired crud(s) in 1 batch(es), 0 idempotency key(s) older than 24 h and 0 ended sign-in session(s)\n",
        ));
    assert_eq!(expired_left(&db).await, 0);
    // The seed's live crud stays.
    let live: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM activities", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 1);
}

#[tokio::test]
async fn serve_purges_periodically_when_asked() {
    let db = TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap();
    insert_expired(&db, 5).await;
    let (_server, _addr) = start_serve(db.url().expose(), &["--purge-every-secs", "1"], &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while expired_left(&db).await > 0 {
        assert!(Instant::now() < deadline, "the periodic purge never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
