use test_db::TestDb;

#[tokio::test]
async fn each_test_database_is_separate_and_already_migrated() {
    let a = TestDb::new().await;
    let b = TestDb::new().await;
    assert_ne!(a.name(), b.name());
    a.client()
        .await
        .execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id) VALUES ('A', 'a', 'a@x', 'sub-a')",
            &[],
        )
        .await
        .unwrap();
    let in_a: i64 = a
        .client()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    let in_b: i64 = b
        .client()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!((in_a, in_b), (1, 0));
}

#[tokio::test]
async fn a_passing_test_drops_its_database() {
    let db = TestDb::new().await;
    let name = db.name().to_owned();
    drop(db);
    let other = TestDb::new().await;
    let client = other.client().await;
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!exists, "{name} should have been dropped");
}
