//! Sign-in sessions (V12): opened under a hashed id, found only while live (idle and absolute
//! ends), renewed, ended, and purged once ended.

use std::time::Duration;

use db::web_sessions::{self, Deleted, Lifetimes, SessionKey, Tokens};
use test_db::TestDb;
use uuid::Uuid;

const LIFETIMES: Lifetimes = Lifetimes {
    idle: Duration::from_secs(3600),
    max: Duration::from_secs(7 * 24 * 3600),
};

async fn seeded() -> (TestDb, Uuid) {
    let db = TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap();
    let andrew = db
        .client()
        .await
        .query_one("SELECT uuid FROM users WHERE handle = 'andrewbrown'", &[])
        .await
        .unwrap()
        .get(0);
    (db, andrew)
}

fn tokens<'a>(access: &'a str, refresh: Option<&'a str>) -> Tokens<'a> {
    Tokens {
        access_token: access,
        access_valid_for: Duration::from_secs(3600),
        renew_after: Duration::from_secs(3300),
        refresh_token: refresh,
    }
}

async fn open(db: &TestDb, key: &SessionKey, user: Uuid) {
    web_sessions::open(
        db.pool(),
        key,
        user,
        &tokens("access-1", Some("refresh-1")),
        LIFETIMES,
    )
    .await
    .unwrap();
}

async fn execute(db: &TestDb, sql: &str, key: &SessionKey) -> u64 {
    db.client()
        .await
        .execute(sql, &[&key.0.as_slice()])
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_is_found_by_its_key_with_its_user_and_tokens_until_it_is_deleted() {
    let (db, andrew) = seeded().await;
    let key = SessionKey([7; 32]);
    open(&db, &key, andrew).await;
    let found = web_sessions::find(db.pool(), &key).await.unwrap().unwrap();
    assert_eq!(found.user.handle, "andrewbrown");
    assert_eq!(found.access_token, "access-1");
    assert_eq!(found.refresh_token.as_deref(), Some("refresh-1"));
    let idle_left = (found.idle_until - found.now).num_seconds();
    let max_left = (found.expires_at - found.now).num_seconds();
    assert!((3590..=3600).contains(&idle_left), "{idle_left}");
    assert!(
        (7 * 24 * 3600 - 10..=7 * 24 * 3600).contains(&max_left),
        "{max_left}"
    );
    assert!(found.refresh_after < found.access_expires_at);
    // Another key finds nothing.
    assert!(web_sessions::find(db.pool(), &SessionKey([8; 32]))
        .await
        .unwrap()
        .is_none());

    match web_sessions::delete(db.pool(), &key).await.unwrap() {
        Deleted::Ended { refresh_token } => assert_eq!(refresh_token.as_deref(), Some("refresh-1")),
        Deleted::None => panic!("the session was not found to delete"),
    }
    assert!(web_sessions::find(db.pool(), &key).await.unwrap().is_none());
    assert!(matches!(
        web_sessions::delete(db.pool(), &key).await.unwrap(),
        Deleted::None
    ));
}

#[tokio::test]
async fn a_session_past_its_idle_or_absolute_end_is_not_found_nor_touched_nor_renewed() {
    let (db, andrew) = seeded().await;
    let idle = SessionKey([1; 32]);
    let absolute = SessionKey([2; 32]);
    open(&db, &idle, andrew).await;
    open(&db, &absolute, andrew).await;
    execute(
        &db,
        "UPDATE web_sessions SET idle_until = now() - interval '1 second' WHERE id_hash = $1",
        &idle,
    )
    .await;
    // Past its absolute end (the table keeps the idle end at or before it, so that has passed
    // too).
    execute(
        &db,
        "UPDATE web_sessions SET idle_until = now() - interval '2 seconds', \
         expires_at = now() - interval '1 second' WHERE id_hash = $1",
        &absolute,
    )
    .await;
    for key in [&idle, &absolute] {
        assert!(web_sessions::find(db.pool(), key).await.unwrap().is_none());
        assert!(!web_sessions::touch(db.pool(), key, LIFETIMES.idle)
            .await
            .unwrap());
        assert!(
            !web_sessions::renew(db.pool(), key, &tokens("access-2", None))
                .await
                .unwrap()
        );
    }
}

#[tokio::test]
async fn touching_moves_the_idle_end_but_never_past_the_absolute_one() {
    let (db, andrew) = seeded().await;
    let key = SessionKey([3; 32]);
    web_sessions::open(
        db.pool(),
        &key,
        andrew,
        &tokens("access-1", None),
        Lifetimes {
            idle: Duration::from_secs(60),
            max: Duration::from_secs(600),
        },
    )
    .await
    .unwrap();
    let before = web_sessions::find(db.pool(), &key).await.unwrap().unwrap();
    assert!((before.idle_until - before.now).num_seconds() <= 60);
    assert!(
        web_sessions::touch(db.pool(), &key, Duration::from_secs(300))
            .await
            .unwrap()
    );
    let after = web_sessions::find(db.pool(), &key).await.unwrap().unwrap();
    assert!((after.idle_until - after.now).num_seconds() > 200);
    assert!(
        web_sessions::touch(db.pool(), &key, Duration::from_secs(3600))
            .await
            .unwrap()
    );
    let capped = web_sessions::find(db.pool(), &key).await.unwrap().unwrap();
    assert_eq!(capped.idle_until, capped.expires_at);
}

#[tokio::test]
async fn renewing_replaces_the_access_token_and_keeps_the_refresh_token_unless_given_one() {
    let (db, andrew) = seeded().await;
    let key = SessionKey([4; 32]);
    open(&db, &key, andrew).await;
    assert!(
        web_sessions::renew(db.pool(), &key, &tokens("access-2", None))
            .await
            .unwrap()
    );
    let kept = web_sessions::find(db.pool(), &key).await.unwrap().unwrap();
    assert_eq!(kept.access_token, "access-2");
    assert_eq!(kept.refresh_token.as_deref(), Some("refresh-1"));
    assert!(
        web_sessions::renew(db.pool(), &key, &tokens("access-3", Some("refresh-2")))
            .await
            .unwrap()
    );
    let rotated = web_sessions::find(db.pool(), &key).await.unwrap().unwrap();
    assert_eq!(rotated.access_token, "access-3");
    assert_eq!(rotated.refresh_token.as_deref(), Some("refresh-2"));
}

#[tokio::test]
async fn the_purge_deletes_ended_sessions_only_and_a_deleted_user_takes_theirs() {
    let (db, andrew) = seeded().await;
    let live = SessionKey([5; 32]);
    let ended = SessionKey([6; 32]);
    open(&db, &live, andrew).await;
    open(&db, &ended, andrew).await;
    execute(
        &db,
        "UPDATE web_sessions SET idle_until = now() - interval '1 second' WHERE id_hash = $1",
        &ended,
    )
    .await;
    let report = db::activities::purge_expired(db.pool(), 10, 2)
        .await
        .unwrap();
    assert_eq!(report.sessions, 1);
    assert!(!report.more_left);
    let left: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM web_sessions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 1);
    assert!(web_sessions::find(db.pool(), &live)
        .await
        .unwrap()
        .is_some());

    db.client()
        .await
        .execute("DELETE FROM users WHERE uuid = $1", &[&andrew])
        .await
        .unwrap();
    assert!(web_sessions::find(db.pool(), &live)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn the_shared_key_is_made_once_and_then_found_whatever_is_offered() {
    let db = TestDb::new().await;
    let first = web_sessions::server_key(db.pool(), "sign_in", &[1; 32])
        .await
        .unwrap();
    assert_eq!(first, vec![1; 32]);
    let second = web_sessions::server_key(db.pool(), "sign_in", &[2; 32])
        .await
        .unwrap();
    assert_eq!(second, first, "the key made first is kept");
    // A short key is refused by the table, not stored.
    assert!(web_sessions::server_key(db.pool(), "short", &[1; 16])
        .await
        .is_err());
}
