//! Costs that follow live data: expired cruds are purged in bounded batches (their replies with
//! them), and a user page counts at most CRUDS_COUNT_CAP cruds.

use db::activities::{purge_expired, PurgeReport};
use test_db::TestDb;

async fn count(db: &TestDb, sql: &str) -> i64 {
    db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test]
async fn expired_cruds_go_in_bounded_batches_with_their_replies_and_live_ones_stay() {
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id)
               VALUES ('B', 'bayko', 'b@example.com', 'c-b');
             -- 25 expired cruds, each with a reply that is itself still live.
             INSERT INTO activities (user_uuid, message, expires_at, created_at)
               SELECT uuid, 'expired ' || n, now() - interval '1 minute', now() - interval '2 days'
               FROM users, generate_series(1, 25) n;
             INSERT INTO activities (user_uuid, message, expires_at, reply_to_activity_uuid)
               SELECT a.user_uuid, 'reply to ' || a.message, now() + interval '1 day', a.uuid
               FROM activities a WHERE a.message LIKE 'expired %';
             -- A live crud with one expired and one live reply.
             INSERT INTO activities (user_uuid, message, expires_at)
               SELECT uuid, 'live', now() + interval '1 day' FROM users;
             INSERT INTO activities (user_uuid, message, expires_at, reply_to_activity_uuid)
               SELECT a.user_uuid, r.m, r.e, a.uuid
               FROM activities a,
                    (VALUES ('old reply', now() - interval '1 second'),
                            ('new reply', now() + interval '1 day')) r(m, e)
               WHERE a.message = 'live';",
        )
        .await
        .unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM activities").await, 53);

    // Bounded: 2 batches of 10 leave 5 for the next run, and say so.
    let first = purge_expired(db.pool(), 10, 2).await.unwrap();
    assert_eq!(
        first,
        PurgeReport {
            cruds: 20,
            keys: 0,
            sessions: 0,
            batches: 2,
            more_left: true
        }
    );
    let second = purge_expired(db.pool(), 10, 2).await.unwrap();
    assert_eq!(
        second,
        PurgeReport {
            cruds: 5,
            keys: 0,
            sessions: 0,
            batches: 1,
            more_left: false
        }
    );
    let again = purge_expired(db.pool(), 10, 2).await.unwrap();
    assert_eq!(again.cruds, 0);

    let left: Vec<String> = db
        .client()
        .await
        .query("SELECT message FROM activities ORDER BY message", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // The expired cruds' replies went with them; the live crud keeps both its replies (the
    // expired one is hidden by the view), so its replies_count still counts 2.
    assert_eq!(left, ["live", "new reply", "old reply"]);
    assert_eq!(
        count(
            &db,
            "SELECT replies_count::bigint FROM activities WHERE message = 'live'"
        )
        .await,
        2
    );
}

#[tokio::test]
async fn a_user_page_counts_at_most_the_cap() {
    let db = TestDb::new().await;
    let cap = db::users::CRUDS_COUNT_CAP;
    db.client()
        .await
        .batch_execute(&format!(
            "INSERT INTO users (display_name, handle, email, cognito_user_id)
               VALUES ('B', 'bayko', 'b@example.com', 'c-b'), ('A', 'andrew', 'a@example.com', 'c-a');
             INSERT INTO activities (user_uuid, message, expires_at)
               SELECT uuid, 'crud ' || n, now() + interval '1 day'
               FROM users, generate_series(1, {}) n WHERE handle = 'bayko';
             INSERT INTO activities (user_uuid, message, expires_at)
               SELECT uuid, 'crud ' || n, now() + interval '1 day'
               FROM users, generate_series(1, 7) n WHERE handle = 'andrew';",
            cap + 5
        ))
        .await
        .unwrap();
    let bayko = db::users::show_user_page(db.pool(), "bayko", 20, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bayko.profile.cruds_count, cap);
    let andrew = db::users::show_user_page(db.pool(), "andrew", 20, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(andrew.profile.cruds_count, 7, "exact below the cap");
}
