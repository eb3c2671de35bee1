use db::migrations;
use refinery::Migration;
use test_db::TestDb;

#[tokio::test]
async fn migrating_twice_applies_once_then_nothing() {
    let db = TestDb::empty().await;
    let mut client = db.client().await;
    let first = migrations::migrate(&mut client).await.unwrap();
    assert_eq!(
        first,
        [
            "V1__initial_schema",
            "V2__one_activity_shape",
            "V3__trustworthy_handles",
            "V4__newest_replies",
            "V5__newest_replies_read_only_n",
            "V6__user_cruds_index",
            "V7__feed_change_notifications",
            "V8__expired_cruds_index",
            "V9__idempotency_keys",
            "V10__replies_count_per_statement",
            "V11__pooled_page_reads",
            "V12__web_sessions"
        ]
    );
    let second = migrations::migrate(&mut client).await.unwrap();
    assert!(second.is_empty(), "{second:?}");
    let history: i64 = client
        .query_one("SELECT count(*) FROM refinery_schema_history", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(history, 12);
}

#[tokio::test]
async fn status_lists_pending_without_creating_anything_then_applied() {
    let db = TestDb::empty().await;
    let mut client = db.client().await;
    let before = migrations::status(&client).await.unwrap();
    let pending: Vec<(i32, bool)> = before
        .iter()
        .map(|m| (m.version, m.applied_on.is_none()))
        .collect();
    assert_eq!(
        pending,
        (1..=12).map(|v| (v, true)).collect::<Vec<_>>(),
        "every migration, in order, none applied"
    );
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "status must not create the history table");
    migrations::migrate(&mut client).await.unwrap();
    let after = migrations::status(&client).await.unwrap();
    assert!(after.iter().all(|m| m.applied_on.is_some()), "{after:?}");
}

#[tokio::test]
async fn a_failing_migration_names_its_file_and_leaves_no_trace() {
    let db = TestDb::empty().await;
    let mut client = db.client().await;
    let good = Migration::unapplied("V1__make_a", "CREATE TABLE a (id int);").unwrap();
    let broken = Migration::unapplied(
        "V2__half_broken",
        "CREATE TABLE b (id int); INSERT INTO a VALUES (1); SELECT no_such_function();",
    )
    .unwrap();
    let err = migrations::migrate_with(&mut client, &[good.clone(), broken])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("V2__half_broken"), "{err}");
    assert!(err.contains("no_such_function"), "{err}");
    let b_exists: bool = client
        .query_one("SELECT to_regclass('b') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    let rows_in_a: i64 = client
        .query_one("SELECT count(*) FROM a", &[])
        .await
        .unwrap()
        .get(0);
    let versions: Vec<i32> = client
        .query(
            "SELECT version FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!b_exists, "the failed file's table must not exist");
    assert_eq!(rows_in_a, 0, "the failed file's insert must be rolled back");
    assert_eq!(versions, [1], "only the good file is recorded");
    // The advisory lock was released: a later run proceeds.
    let again = migrations::migrate_with(&mut client, &[good])
        .await
        .unwrap();
    assert!(again.is_empty());
}

#[tokio::test]
async fn an_edited_applied_migration_is_refused() {
    let db = TestDb::empty().await;
    let mut client = db.client().await;
    let original = Migration::unapplied("V1__t", "CREATE TABLE t (id int);").unwrap();
    migrations::migrate_with(&mut client, &[original])
        .await
        .unwrap();
    let edited = Migration::unapplied("V1__t", "CREATE TABLE t (id bigint);").unwrap();
    let err = migrations::migrate_with(&mut client, &[edited])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("different"), "{err}");
}

#[tokio::test]
async fn v3_stops_on_handles_that_differ_only_in_case_naming_them_and_changing_nothing() {
    let db = TestDb::empty().await;
    let mut client = db.client().await;
    let before_v3: Vec<Migration> = migrations::all().into_iter().take(2).collect();
    migrations::migrate_with(&mut client, &before_v3)
        .await
        .unwrap();
    client
        .batch_execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id) VALUES
               ('A', 'andrewbrown', 'a@x', 's1'), ('B', 'AndrewBrown', 'b@x', 's2'),
               ('C', 'odd handle', 'c@x', 's3')",
        )
        .await
        .unwrap();
    let err = migrations::migrate(&mut client)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("V3__trustworthy_handles"), "{err}");
    assert!(err.contains("AndrewBrown / andrewbrown"), "{err}");
    let handles: i64 = client
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(handles, 3, "nothing changed");

    client
        .batch_execute("UPDATE users SET handle = 'andrew_brown2' WHERE handle = 'AndrewBrown'")
        .await
        .unwrap();
    migrations::migrate(&mut client).await.unwrap();
    // The old nonconforming handle is kept and reported, new ones are refused.
    let odd = db::admin::nonconforming_handles(&client).await.unwrap();
    assert_eq!(odd, ["odd handle"]);
    let refused = client
        .batch_execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id)
             VALUES ('D', 'new odd', 'd@x', 's4')",
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code().unwrap().code(), "23514");
    let twin = client
        .batch_execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id)
             VALUES ('E', 'ANDREWBROWN', 'e@x', 's5')",
        )
        .await
        .unwrap_err();
    assert_eq!(twin.code().unwrap().code(), "23505");
}
