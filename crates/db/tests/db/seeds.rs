use test_db::TestDb;
use tokio_postgres::Client;

async fn snapshot(client: &Client) -> Vec<(String, String, String, i64)> {
    client
        .query(
            "SELECT u.handle, u.email, u.display_name, count(a.uuid)
             FROM users u LEFT JOIN activities a ON a.user_uuid = u.uuid
             GROUP BY u.handle, u.email, u.display_name ORDER BY u.handle",
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[tokio::test]
async fn seed_loads_the_documents_users_and_crud_and_is_idempotent() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let first = db::seeds::seed(&mut client).await.unwrap();
    assert_eq!((first.users, first.activities), (2, 1));
    let after_first = snapshot(&client).await;
    assert_eq!(
        after_first,
        [
            (
                "andrewbrown".into(),
                "andrewbrown@exampro.co".into(),
                "Andrew Brown".into(),
                1
            ),
            (
                "bayko".into(),
                "bayko@exampro.co".into(),
                "Andrew Bayko".into(),
                0
            ),
        ]
    );
    let second = db::seeds::seed(&mut client).await.unwrap();
    assert_eq!((second.users, second.activities), (0, 0));
    assert_eq!(snapshot(&client).await, after_first);
}

#[tokio::test]
async fn the_seed_crud_expires_in_ten_days_by_the_database_clock() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    db::seeds::seed(&mut client).await.unwrap();
    let (message, seconds): (String, f64) = client
        .query_one(
            "SELECT message, extract(epoch FROM expires_at - created_at)::float8 FROM activities",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(message, "This was imported as seed data!");
    assert!((seconds - 864_000.0).abs() < 5.0, "{seconds}");
}

#[tokio::test]
async fn demo_seed_adds_exactly_n_unexpired_cruds_spread_over_demo_users() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let report = db::seeds::seed_demo(&mut client, 2_500).await.unwrap();
    assert_eq!((report.users, report.activities), (10, 2_500));
    let (authors, max_per_author, unexpired): (i64, i64, i64) = client
        .query_one(
            "SELECT count(DISTINCT user_uuid),
                    (SELECT max(c) FROM (SELECT count(*) c FROM activities GROUP BY user_uuid) x),
                    count(*) FILTER (WHERE expires_at > now())
             FROM activities",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .unwrap();
    assert_eq!((authors, max_per_author, unexpired), (10, 250, 2_500));
    let again = db::seeds::seed_demo(&mut client, 500).await.unwrap();
    assert_eq!(
        (again.users, again.activities),
        (0, 500),
        "users are reused, cruds are added"
    );
}
