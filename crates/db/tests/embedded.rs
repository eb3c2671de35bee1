//! The harness itself: a cluster comes up, test databases are isolated and migrated.

use test_db::TestDb;

#[tokio::test]
async fn each_test_database_is_separate_and_already_migrated() {
    let a = TestDb::new().await;
    let b = TestDb::new().await;
    assert_ne!(a.name(), b.name());
    let client = a.client().await;
    client
        .execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id) VALUES ('A', 'a', 'a@x', 'sub-a')",
            &[],
        )
        .await
        .unwrap();
    let in_b: i64 = b
        .client()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(in_b, 0);
}
