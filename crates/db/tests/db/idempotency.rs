//! Keyed creates and replies: one write per key and request, whatever is retried or raced.

use db::idempotency::{create_once, reply_once, KeyedOutcome};
use domain::{CrudFields, IdempotencyKey, NewCrud, NewReply, ReplyFields};
use test_db::TestDb;
use uuid::Uuid;

fn crud(author: &str, message: &str) -> NewCrud {
    NewCrud::parse(CrudFields {
        author: Some(author),
        message: Some(message),
        ttl: Some("1-day"),
    })
    .unwrap()
}

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).unwrap()
}

/// Rows in `activities`: what a keyed write must add exactly once.
async fn activities(db: &TestDb) -> i64 {
    count(db, "SELECT count(*) FROM activities").await
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

fn written(outcome: KeyedOutcome) -> Uuid {
    match outcome {
        KeyedOutcome::Written(row) => row.activity.uuid,
        other => panic!("expected a write, got {other:?}"),
    }
}

fn replayed(outcome: KeyedOutcome) -> Uuid {
    match outcome {
        KeyedOutcome::Replayed(row) => row.activity.uuid,
        other => panic!("expected a replay, got {other:?}"),
    }
}

async fn seeded() -> TestDb {
    let db = TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap();
    db
}

#[tokio::test]
async fn a_retried_create_answers_the_first_result_and_another_body_is_refused() {
    let db = seeded().await;
    let before = activities(&db).await;
    let k = key("8e5f3c1a-0b1d-4c2e-9f3a-5b6c7d8e9f00");
    let first = written(
        create_once(db.pool(), &crud("bayko", "once"), &k)
            .await
            .unwrap(),
    );
    let again = replayed(
        create_once(db.pool(), &crud("BAYKO", "once"), &k)
            .await
            .unwrap(),
    );
    assert_eq!(again, first, "the same crud, not a second one");
    assert!(matches!(
        create_once(db.pool(), &crud("bayko", "twice?"), &k)
            .await
            .unwrap(),
        KeyedOutcome::KeyReused
    ));
    assert_eq!(activities(&db).await, before + 1);
    // Keys are the author's own: another author's same key is another write.
    let other = written(
        create_once(db.pool(), &crud("andrewbrown", "once"), &k)
            .await
            .unwrap(),
    );
    assert_ne!(other, first);
    assert!(matches!(
        create_once(db.pool(), &crud("nobody", "once"), &key("k2"))
            .await
            .unwrap(),
        KeyedOutcome::UnknownAuthor
    ));
    assert_eq!(count(&db, "SELECT count(*) FROM idempotency_keys").await, 2);
}

#[tokio::test]
async fn the_same_key_sent_at_once_writes_once() {
    let db = seeded().await;
    let before = activities(&db).await;
    let k = key("raced");
    let attempts = (0..8).map(|_| {
        let pool = db.pool().clone();
        let k = k.clone();
        tokio::spawn(async move { create_once(&pool, &crud("bayko", "raced"), &k).await })
    });
    let mut uuids = Vec::new();
    let mut writes = 0;
    for attempt in attempts {
        match attempt.await.unwrap().unwrap() {
            KeyedOutcome::Written(row) => {
                writes += 1;
                uuids.push(row.activity.uuid);
            }
            KeyedOutcome::Replayed(row) => uuids.push(row.activity.uuid),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(writes, 1);
    uuids.dedup();
    assert_eq!(uuids.len(), 1, "every attempt answers the one crud");
    assert_eq!(activities(&db).await, before + 1);
}

#[tokio::test]
async fn a_retried_reply_answers_the_first_reply_even_after_its_crud_expired() {
    let db = seeded().await;
    let parent = written(
        create_once(db.pool(), &crud("bayko", "parent"), &key("p"))
            .await
            .unwrap(),
    );
    let reply = |message: &str| {
        NewReply::parse(ReplyFields {
            author: Some("andrewbrown"),
            message: Some(message),
        })
        .unwrap()
    };
    let k = key("r");
    let first = written(
        reply_once(db.pool(), parent, &reply("re"), &k)
            .await
            .unwrap(),
    );
    assert_eq!(
        replayed(
            reply_once(db.pool(), parent, &reply("re"), &k)
                .await
                .unwrap()
        ),
        first
    );
    assert!(matches!(
        reply_once(db.pool(), parent, &reply("other"), &k)
            .await
            .unwrap(),
        KeyedOutcome::KeyReused
    ));
    // The parent expires: a retry still answers the reply it made; a new key finds no parent.
    db.client()
        .await
        .execute(
            "UPDATE activities SET expires_at = now() - interval '1 second' WHERE uuid = $1",
            &[&parent],
        )
        .await
        .unwrap();
    assert_eq!(
        replayed(
            reply_once(db.pool(), parent, &reply("re"), &k)
                .await
                .unwrap()
        ),
        first
    );
    assert!(matches!(
        reply_once(db.pool(), parent, &reply("re"), &key("new"))
            .await
            .unwrap(),
        KeyedOutcome::UnknownParent
    ));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM activities WHERE reply_to_activity_uuid IS NOT NULL"
        )
        .await,
        1
    );
}

/// Makes the key `key` as if it was used 25 hours ago.
async fn age_keys_past_a_day(db: &TestDb, key: &str) {
    db.client()
        .await
        .execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = $1",
            &[&key],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_key_older_than_a_day_is_free_again_and_purged() {
    let db = seeded().await;
    let k = key("old");
    let first = written(
        create_once(db.pool(), &crud("bayko", "day one"), &k)
            .await
            .unwrap(),
    );
    age_keys_past_a_day(&db, "old").await;
    // Past 24 hours the key is unused: the same key writes anew, even with another body.
    let second = written(
        create_once(db.pool(), &crud("bayko", "day two"), &k)
            .await
            .unwrap(),
    );
    assert_ne!(second, first);
    written(
        create_once(db.pool(), &crud("bayko", "stale"), &key("stale"))
            .await
            .unwrap(),
    );
    age_keys_past_a_day(&db, "stale").await;
    let report = db::activities::purge_expired(db.pool(), 10, 2)
        .await
        .unwrap();
    assert_eq!(report.keys, 1);
    let left: Vec<String> = db
        .client()
        .await
        .query("SELECT key FROM idempotency_keys", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, ["old"]);
}

/// The answer to a keyed create is lost after its commit (the connection breaks): the caller is
/// told the database is unavailable (503), though the crud is written. Its retry with the same
/// key answers that crud instead of writing a second.
#[tokio::test]
async fn a_create_committed_but_answered_unavailable_is_answered_on_retry_not_written_again() {
    let db = seeded().await;
    let proxy = crate::cut_proxy::CutProxy::start(test_db::cluster().port()).await;
    let url = db.url().expose().replace(
        &format!("127.0.0.1:{}/", test_db::cluster().port()),
        &format!("127.0.0.1:{}/", proxy.port()),
    );
    let pool = db::pool::build_pool(
        &db::DatabaseUrl::new(url).parse().unwrap(),
        &db::PoolSettings::default(),
    )
    .unwrap();
    let before = activities(&db).await;
    let k = key("lost-answer-key");
    proxy.cut_after_commit("lost-answer-key");
    let lost = create_once(&pool, &crud("bayko", "lost answer"), &k).await;
    assert!(
        matches!(&lost, Err(e) if e.is_unavailable()),
        "the caller cannot know: {lost:?}"
    );
    assert_eq!(proxy.cuts(), 1);
    assert_eq!(activities(&db).await, before + 1, "yet it committed");
    let retried = replayed(
        create_once(&pool, &crud("bayko", "lost answer"), &k)
            .await
            .unwrap(),
    );
    let stored: Uuid = db
        .client()
        .await
        .query_one(
            "SELECT uuid FROM activities WHERE message = 'lost answer'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(retried, stored);
    assert_eq!(activities(&db).await, before + 1);
}

/// A short-lived crud is purged long before its key's 24 hours are up: a retry then learns its
/// write is gone, and writes nothing again.
#[tokio::test]
async fn a_retry_after_the_crud_was_purged_writes_nothing_again() {
    let db = seeded().await;
    let k = key("short-lived");
    let first = written(
        create_once(db.pool(), &crud("bayko", "gone soon"), &k)
            .await
            .unwrap(),
    );
    db.client()
        .await
        .execute(
            "UPDATE activities SET expires_at = now() - interval '1 second' WHERE uuid = $1",
            &[&first],
        )
        .await
        .unwrap();
    let report = db::activities::purge_expired(db.pool(), 10, 2)
        .await
        .unwrap();
    assert_eq!(report.cruds, 1);
    let before = activities(&db).await;
    assert!(matches!(
        create_once(db.pool(), &crud("bayko", "gone soon"), &k)
            .await
            .unwrap(),
        KeyedOutcome::Gone
    ));
    assert_eq!(activities(&db).await, before);
    // Another body under the key is still refused as reuse.
    assert!(matches!(
        create_once(db.pool(), &crud("bayko", "other"), &k)
            .await
            .unwrap(),
        KeyedOutcome::KeyReused
    ));
}
