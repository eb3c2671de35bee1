//! The triggers under faults: with the database down each answers an error well inside
//! Cognito's 5 seconds; once it is back, a redelivery records the user exactly once; two
//! deliveries of the same event at once (two Lambda containers) both succeed with one row.

use std::time::Duration;

use local_cluster::Durability;
use post_confirmation::{handle_json, pool_settings};
use serde_json::Value;
use test_db::{OwnCluster, TestDb};

use crate::{event_for, example_event};

/// What Cognito allows a trigger; an invocation still running then has failed the sign-up.
const COGNITO_LIMIT: Duration = Duration::from_secs(5);

/// The row of `sub` as written: its uuid, and `xmin`, which any later UPDATE of the row changes.
async fn row_version(pool: &db::Pool, sub: &str) -> Option<(String, String)> {
    db::pool::checkout(pool)
        .await
        .unwrap()
        .query_opt(
            "SELECT uuid::text, xmin::text FROM users WHERE cognito_user_id = $1",
            &[&sub],
        )
        .await
        .unwrap()
        .map(|row| (row.get(0), row.get(1)))
}

/// One delivery of the example event, answered inside Cognito's limit, with the event.
async fn deliver(pool: &db::Pool) -> Value {
    tokio::time::timeout(COGNITO_LIMIT, handle_json(pool, example_event()))
        .await
        .expect("answered inside Cognito's limit")
        .unwrap_or_else(|e| panic!("delivery failed: {}", e.full_message()))
}

async fn users_with_sub(pool: &db::Pool, sub: &str) -> i64 {
    db::pool::checkout(pool)
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) FROM users WHERE cognito_user_id = $1",
            &[&sub],
        )
        .await
        .unwrap()
        .get(0)
}

fn pre_sign_up_event() -> Value {
    serde_json::from_str(include_str!(
        "../../../../deploy/lambda/example-pre-sign-up-event.json"
    ))
    .unwrap()
}

#[tokio::test]
async fn with_the_database_down_both_triggers_fail_fast_and_a_redelivery_records_one_row() {
    let own = OwnCluster::start(Durability::Ephemeral, false).await;
    let cluster = own.cluster.clone();
    let port = own.port;
    let settings = own.url(test_db::OWN_DATABASE).parse().unwrap();
    // The function's own pool, warmed up the way a container that already served is.
    let pool = db::pool::build_pool(&settings, &pool_settings()).unwrap();
    let sub = example_event()["request"]["userAttributes"]["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(users_with_sub(&pool, &sub).await, 0);

    assert!(cluster.stop().unwrap());
    for (trigger, event) in [
        ("post confirmation", example_event()),
        ("pre sign-up", pre_sign_up_event()),
    ] {
        let outcome = tokio::time::timeout(COGNITO_LIMIT, handle_json(&pool, event))
            .await
            .unwrap_or_else(|_| panic!("{trigger}: still running when Cognito gives up"));
        let err = outcome.expect_err("no database: no success");
        assert_eq!(err.kind(), "DatabaseError", "{trigger}: {err}");
        assert!(
            err.full_message().contains("database unavailable"),
            "{trigger}: {}",
            err.full_message()
        );
    }

    // Cognito redelivers after the failure; by then the database is back (same port).
    assert_eq!(cluster.start().unwrap().port, port);
    // The first redelivery records the user…
    assert_eq!(deliver(&pool).await, example_event());
    let first = row_version(&pool, &sub)
        .await
        .expect("the first redelivery records the user");
    // …and a second one writes nothing at all: the row is the one the first wrote.
    assert_eq!(deliver(&pool).await, example_event());
    assert_eq!(
        row_version(&pool, &sub).await,
        Some(first),
        "the second redelivery rewrote the row"
    );
    assert_eq!(
        users_with_sub(&pool, &sub).await,
        1,
        "recorded exactly once"
    );
}

#[tokio::test]
async fn the_same_event_delivered_twice_at_once_records_one_row_and_both_succeed() {
    let db = TestDb::new().await;
    // Two warm containers, each with its own one-connection pool.
    let containers = [
        db::pool::build_pool(db.settings(), &pool_settings()).unwrap(),
        db::pool::build_pool(db.settings(), &pool_settings()).unwrap(),
    ];
    for pool in &containers {
        users_with_sub(pool, "warm-up").await;
    }
    // Holds every write to users back until both deliveries wait on it, then releases them
    // together: their INSERTs race in every round, not when the scheduler happens to let them.
    let gate = db.client().await;
    for round in 0..20 {
        let sub = format!("sub-{round}");
        let event = event_for(
            &sub,
            &format!("twin{round}"),
            "Twin",
            &format!("twin{round}@example.com"),
        );
        gate.batch_execute("BEGIN; LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE")
            .await
            .unwrap();
        let (first, second, ()) = tokio::join!(
            handle_json(&containers[0], event.clone()),
            handle_json(&containers[1], event.clone()),
            async {
                tokio::time::timeout(Duration::from_secs(2), async {
                    loop {
                        let waiting: i64 = gate
                            .query_one(
                                "SELECT count(*) FROM pg_locks
                                 WHERE relation = 'users'::regclass AND NOT granted
                                   AND database = (SELECT oid FROM pg_database
                                                   WHERE datname = current_database())",
                                &[],
                            )
                            .await
                            .unwrap()
                            .get(0);
                        if waiting >= 2 {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
                .await
                .expect("both deliveries reach the locked table");
                gate.batch_execute("COMMIT").await.unwrap();
            }
        );
        let first =
            first.unwrap_or_else(|e| panic!("round {round}: first delivery: {}", e.full_message()));
        let second = second
            .unwrap_or_else(|e| panic!("round {round}: second delivery: {}", e.full_message()));
        assert_eq!(first, event, "round {round}: first delivery");
        assert_eq!(second, event, "round {round}: second delivery");
        assert_eq!(users_with_sub(db.pool(), &sub).await, 1, "round {round}");
    }
}
