//! What every pooled session gets, whatever the URL says: the service's settings merged with the
//! URL's own `options`, and a bounded lifetime.

use std::time::Duration;

use db::{DatabaseUrl, PoolSettings};
use test_db::TestDb;

async fn show(client: &db::pool::PooledClient, setting: &str) -> String {
    client
        .query_one(&format!("SHOW {setting}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_urls_options_are_added_to_the_session_defaults_not_instead_of_them() {
    let db = TestDb::new().await;
    let url = format!(
        "{}&options=-c%20search_path%3Dmine,public%20-c%20work_mem%3D8MB",
        db.url().expose()
    );
    let settings = DatabaseUrl::new(url).parse().unwrap();
    let tuning = PoolSettings {
        statement_timeout: Duration::from_millis(1234),
        ..PoolSettings::default()
    };
    let pool = db::pool::build_pool(&settings, &tuning).unwrap();
    let client = db::pool::checkout(&pool).await.unwrap();
    assert_eq!(show(&client, "search_path").await, "mine,public");
    assert_eq!(show(&client, "work_mem").await, "8MB");
    assert_eq!(show(&client, "statement_timeout").await, "1234ms");
    assert_eq!(show(&client, "TimeZone").await, "UTC");
    assert_eq!(show(&client, "plan_cache_mode").await, "force_generic_plan");
    assert_eq!(show(&client, "jit").await, "off");
}

async fn backend_pid(pool: &db::Pool) -> i32 {
    db::pool::checkout(pool)
        .await
        .unwrap()
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_connection_past_its_lifetime_is_replaced_and_a_young_one_is_reused() {
    let db = TestDb::new().await;
    let pool_with = |max_lifetime| {
        db::pool::build_pool(
            db.settings(),
            &PoolSettings {
                max_size: 1,
                max_lifetime,
                ..PoolSettings::default()
            },
        )
        .unwrap()
    };
    let young = pool_with(Duration::from_secs(3600));
    assert_eq!(backend_pid(&young).await, backend_pid(&young).await);
    let old = pool_with(Duration::ZERO);
    assert_ne!(backend_pid(&old).await, backend_pid(&old).await);
}
