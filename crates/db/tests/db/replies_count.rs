//! `replies_count` follows every insert and delete of replies, however many rows one statement
//! touches (migration V10: one update per parent per statement, from the transition tables).

use test_db::TestDb;

/// Each crud's message and stored count against its true number of replies, by message.
async fn counts(db: &TestDb) -> Vec<(String, i32, i64)> {
    db.client()
        .await
        .query(
            "SELECT p.message, p.replies_count,
                    (SELECT count(*) FROM activities r WHERE r.reply_to_activity_uuid = p.uuid)
             FROM activities p WHERE p.reply_to_activity_uuid IS NULL ORDER BY p.message",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect()
}

#[tokio::test]
async fn one_statement_of_many_replies_to_several_cruds_counts_each_parent_by_its_own() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id)
               VALUES ('A', 'andrew', 'a@example.com', 'c-a'), ('B', 'bayko', 'b@example.com', 'c-b');
             INSERT INTO activities (user_uuid, message)
               SELECT uuid, 'crud of ' || handle FROM users;
             -- One statement: 300 replies to andrew's crud, 7 to bayko's, and a new top-level
             -- crud, by both users.
             INSERT INTO activities (user_uuid, message, reply_to_activity_uuid)
               SELECT u.uuid, 'reply ' || n, p.uuid
               FROM users u, activities p, generate_series(1, 150) n
               WHERE p.message = 'crud of andrew'
             UNION ALL
               SELECT u.uuid, 'reply ' || n, p.uuid
               FROM users u, activities p, generate_series(1, 7) n
               WHERE p.message = 'crud of bayko' AND u.handle = 'bayko'
             UNION ALL
               SELECT uuid, 'new crud', NULL FROM users WHERE handle = 'andrew';",
        )
        .await
        .unwrap();
    assert_eq!(
        counts(&db).await,
        [
            ("crud of andrew".to_owned(), 300, 300),
            ("crud of bayko".to_owned(), 7, 7),
            ("new crud".to_owned(), 0, 0),
        ]
    );

    // One delete of replies under both parents, then a user's deletion cascading to replies of
    // its own on another user's crud (and to its crud with its replies).
    client
        .batch_execute(
            "DELETE FROM activities WHERE message IN ('reply 1', 'reply 2', 'reply 3')
               AND reply_to_activity_uuid IS NOT NULL;
             DELETE FROM users WHERE handle = 'bayko';",
        )
        .await
        .unwrap();
    // andrew's crud: 300 - 6 (replies 1–3 by both) - 147 (bayko's remaining replies) = 147.
    assert_eq!(
        counts(&db).await,
        [
            ("crud of andrew".to_owned(), 147, 147),
            ("new crud".to_owned(), 0, 0),
        ]
    );
}

#[tokio::test]
async fn deleting_several_repliers_at_once_counts_each_cascade() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id)
               SELECT h, h, h || '@example.com', 'c-' || h
               FROM unnest(ARRAY['andrew', 'bayko', 'carol', 'dan']) h;
             INSERT INTO activities (user_uuid, message)
               SELECT uuid, 'crud of ' || handle FROM users WHERE handle IN ('andrew', 'dan');
             -- Everyone replies 5 times to andrew's crud and 2 times to dan's.
             INSERT INTO activities (user_uuid, message, reply_to_activity_uuid)
               SELECT u.uuid, 'reply', p.uuid
               FROM users u, activities p, generate_series(1, 5) n
               WHERE p.message = 'crud of andrew'
             UNION ALL
               SELECT u.uuid, 'reply', p.uuid
               FROM users u, activities p, generate_series(1, 2) n
               WHERE p.message = 'crud of dan';
             -- One statement removes two repliers: each cascade reaches both parents.
             DELETE FROM users WHERE handle IN ('bayko', 'carol');",
        )
        .await
        .unwrap();
    assert_eq!(
        counts(&db).await,
        [
            ("crud of andrew".to_owned(), 10, 10),
            ("crud of dan".to_owned(), 4, 4),
        ]
    );
}

/// The counts are kept per statement (V10), not per row as V2 did: the row triggers are gone.
#[tokio::test]
async fn the_count_triggers_are_per_statement_with_transition_tables() {
    let db = TestDb::new().await;
    let rows = db
        .client()
        .await
        .query(
            "SELECT tgname, (tgtype & 1) = 1 AS per_row,
                    tgnewtable IS NOT NULL OR tgoldtable IS NOT NULL AS transition
             FROM pg_trigger
             WHERE tgrelid = 'activities'::regclass AND tgname LIKE 'activities_count_replies_%'
             ORDER BY tgname",
            &[],
        )
        .await
        .unwrap();
    let triggers: Vec<(String, bool, bool)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        triggers,
        [
            ("activities_count_replies_on_delete".to_owned(), false, true),
            ("activities_count_replies_on_insert".to_owned(), false, true),
            // Re-parenting keeps V2's row trigger (no transition tables on a column trigger).
            (
                "activities_count_replies_on_reparent".to_owned(),
                true,
                false
            ),
        ]
    );
}
