//! Group commit of new cruds: concurrent creates share statements, every request still gets its
//! own crud (or its own error), and nothing is written twice or lost.

use std::collections::HashSet;
use std::time::Duration;

use db::activity::CrudRow;
use db::{CreateQueue, CreateQueueSettings, DatabaseUrl, DbError, PoolSettings};
use domain::NewCrud;
use test_db::TestDb;

use crate::cut_proxy::CutProxy;

/// Far above anything these tests wait for; only reached if something hangs.
const HANG_GUARD: Duration = Duration::from_secs(30);

async fn with_users(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id) VALUES
               ('Andrew Brown', 'andrewbrown', 'andrew@example.com', 'c-andrew'),
               ('Andrew Bayko', 'bayko', 'bayko@example.com', 'c-bayko')",
        )
        .await
        .unwrap();
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

fn crud(author: &str, message: &str) -> NewCrud {
    NewCrud::parse(domain::CrudFields {
        ttl: Some("1-day"),
        author: Some(author),
        message: Some(message),
    })
    .unwrap()
}

type Outcome = Result<Option<CrudRow>, DbError>;

/// Sends all `cruds` at once. The test runtime is single-threaded, so every request is queued
/// before the collector first runs: with one lane they leave as one batch (up to `max_batch`).
async fn create_all(queue: &CreateQueue, cruds: Vec<NewCrud>) -> Vec<Outcome> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, c) in cruds.into_iter().enumerate() {
        let queue = queue.clone();
        tasks.spawn(async move { (i, queue.create(c).await) });
    }
    let mut outcomes: Vec<_> = tokio::time::timeout(HANG_GUARD, tasks.join_all())
        .await
        .expect("every create must answer");
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

/// Polls `condition` every 10 ms until it holds; panics after [`HANG_GUARD`].
async fn wait_until<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    tokio::time::timeout(HANG_GUARD, async {
        while !condition().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("condition never held");
}

fn one_lane() -> CreateQueueSettings {
    CreateQueueSettings {
        lanes: 1,
        max_batch: 32,
        ..CreateQueueSettings::default()
    }
}

/// A pool on `db` whose statements are cut off after `statement_timeout`.
fn pool_with_timeout(db: &TestDb, statement_timeout: Duration) -> db::Pool {
    db::pool::build_pool(
        db.settings(),
        &PoolSettings {
            statement_timeout,
            ..PoolSettings::default()
        },
    )
    .unwrap()
}

/// A trigger that counts every crud the database is asked to insert (a sequence is not rolled
/// back) and then runs `then` (PL/pgSQL), e.g. a sleep or an error.
async fn count_inserts_then(db: &TestDb, then: &str) {
    db.client()
        .await
        .batch_execute(&format!(
            "CREATE SEQUENCE insert_attempts;
             CREATE FUNCTION count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               PERFORM nextval('insert_attempts');
               {then};
               RETURN NEW;
             END $$;
             CREATE TRIGGER count_insert BEFORE INSERT ON activities
               FOR EACH ROW EXECUTE FUNCTION count_insert();"
        ))
        .await
        .unwrap();
}

async fn insert_attempts(db: &TestDb) -> i64 {
    count(
        db,
        "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM insert_attempts",
    )
    .await
}

fn many(n: usize, prefix: &str) -> Vec<NewCrud> {
    (0..n)
        .map(|i| crud("andrewbrown", &format!("{prefix} {i}")))
        .collect()
}

#[tokio::test]
async fn concurrent_creates_share_commits_and_each_gets_its_own_crud() {
    let db = TestDb::new().await;
    with_users(&db).await;
    let queue = CreateQueue::start(db.pool().clone(), one_lane());
    // The only lane is held by a crud that waits on a table lock, so all 40 queue up behind it.
    let locker = db.client().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE activities IN SHARE MODE")
        .await
        .unwrap();
    let blocker = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.create(crud("bayko", "blocker")).await })
    };
    let waiting_for_lock =
        "SELECT count(*) FROM pg_locks WHERE relation = 'activities'::regclass AND NOT granted";
    let db_ref = &db;
    wait_until(|| async move { count(db_ref, waiting_for_lock).await == 1 }).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let queue = queue.clone();
        let author = if i % 2 == 0 { "andrewbrown" } else { "bayko" };
        let c = crud(author, &format!("crud {i}"));
        tasks.spawn(async move { (i, queue.create(c).await) });
    }
    let queue_ref = &queue;
    wait_until(|| async move { queue_ref.queued() == 40 }).await;
    locker.batch_execute("COMMIT").await.unwrap();
    let mut outcomes: Vec<(usize, Outcome)> = tokio::time::timeout(HANG_GUARD, tasks.join_all())
        .await
        .expect("every create must answer");
    outcomes.sort_by_key(|(i, _)| *i);
    let outcomes: Vec<Outcome> = outcomes.into_iter().map(|(_, o)| o).collect();
    assert!(blocker.await.unwrap().unwrap().is_some());

    let mut uuids = HashSet::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        let item = &outcome
            .as_ref()
            .unwrap()
            .as_ref()
            .expect("known author")
            .activity;
        assert_eq!(
            item.message,
            format!("crud {i}"),
            "answer {i} is another request's crud"
        );
        let (handle, name) = if i % 2 == 0 {
            ("andrewbrown", "Andrew Brown")
        } else {
            ("bayko", "Andrew Bayko")
        };
        assert_eq!(
            (item.handle.as_str(), item.display_name.as_str()),
            (handle, name)
        );
        assert!(item.expires_at.unwrap() > item.created_at);
        uuids.insert(item.uuid);
    }
    assert_eq!(uuids.len(), 40);

    let stored = count(&db, "SELECT count(*) FROM activities").await;
    assert_eq!(stored, 41, "every crud written exactly once");
    // created_at is the transaction's time, so it groups cruds by transaction: the blocker
    // alone, then the 40 queued behind it in batches of at most 32.
    let sizes: Vec<i64> = db
        .client()
        .await
        .query(
            "SELECT count(*) FROM activities GROUP BY created_at ORDER BY 1 DESC",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(sizes, [32, 8, 1], "cruds per transaction");
}

#[tokio::test]
async fn an_unknown_author_in_a_batch_gets_none_and_the_others_are_written() {
    let db = TestDb::new().await;
    with_users(&db).await;
    let queue = CreateQueue::start(db.pool().clone(), one_lane());
    let cruds: Vec<NewCrud> = (0..12)
        .map(|i| {
            crud(
                // Handles match without regard to case, in a batch too.
                match i % 3 {
                    0 => "nobody",
                    1 => "bayko",
                    _ => "BayKo",
                },
                &format!("crud {i}"),
            )
        })
        .collect();
    let outcomes = create_all(&queue, cruds).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        let item = outcome.as_ref().unwrap();
        if i % 3 == 0 {
            assert!(item.is_none(), "unknown author {i} must get None");
        } else {
            let item = item.as_ref().unwrap();
            assert_eq!(item.activity.message, format!("crud {i}"));
            assert_eq!(item.activity.handle, "bayko", "answered as stored");
        }
    }
    assert_eq!(count(&db, "SELECT count(*) FROM activities").await, 8);
    // One transaction for the eight: the unknown authors were mapped inside a batch.
    let transactions = count(&db, "SELECT count(DISTINCT created_at) FROM activities").await;
    assert_eq!(
        transactions, 1,
        "expected one batch, got {transactions} transactions"
    );
}

#[tokio::test]
async fn a_rejected_batch_is_retried_one_by_one_so_only_the_bad_crud_fails() {
    let db = TestDb::new().await;
    with_users(&db).await;
    // A database-side rule the domain does not know: it rejects the whole batch statement.
    db.client()
        .await
        .batch_execute(
            "CREATE SEQUENCE poison_attempts;
             CREATE FUNCTION reject_poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.message = 'poison' THEN
                 PERFORM nextval('poison_attempts');  -- not rolled back: counts every try
                 RAISE EXCEPTION 'poison rejected' USING ERRCODE = '22023';
               END IF;
               RETURN NEW;
             END $$;
             CREATE TRIGGER reject_poison BEFORE INSERT ON activities
               FOR EACH ROW EXECUTE FUNCTION reject_poison();",
        )
        .await
        .unwrap();
    let queue = CreateQueue::start(db.pool().clone(), one_lane());
    let cruds: Vec<NewCrud> = (0..16)
        .map(|i| {
            let message = if i == 5 {
                "poison".to_owned()
            } else {
                format!("crud {i}")
            };
            crud("andrewbrown", &message)
        })
        .collect();
    let outcomes = create_all(&queue, cruds).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        if i == 5 {
            match outcome {
                Err(DbError::InvalidValue { sqlstate }) => assert_eq!(sqlstate, "22023"),
                other => panic!("the poison crud must fail on its own: {other:?}"),
            }
        } else {
            let item = outcome.as_ref().unwrap().as_ref().unwrap();
            assert_eq!(item.activity.message, format!("crud {i}"));
        }
    }
    let client = db.client().await;
    let stored: i64 = client
        .query_one("SELECT count(*) FROM activities", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 15, "every good crud once, the poison one never");
    let poison: i64 = client
        .query_one(
            "SELECT count(*) FROM activities WHERE message = 'poison'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(poison, 0);
    // Tried twice: once inside the rejected batch, once alone in the one-by-one retry.
    let attempts = count(&db, "SELECT last_value FROM poison_attempts").await;
    assert_eq!(
        attempts, 2,
        "the batch path and its retry must both have run"
    );
}

#[tokio::test]
async fn without_a_database_every_request_of_a_batch_is_told_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let settings = DatabaseUrl::new(format!("postgres://u:secret@127.0.0.1:{port}/db"))
        .parse()
        .unwrap();
    let pool = db::pool::build_pool(&settings, &db::PoolSettings::default()).unwrap();
    let queue = CreateQueue::start(pool, one_lane());
    let cruds: Vec<NewCrud> = (0..6)
        .map(|i| crud("bayko", &format!("crud {i}")))
        .collect();
    for outcome in create_all(&queue, cruds).await {
        let err = outcome.expect_err("no database: no crud");
        assert!(err.is_unavailable(), "{err:?}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}

#[tokio::test]
async fn a_statement_timeout_is_answered_to_the_whole_batch_without_retries() {
    let db = TestDb::new().await;
    with_users(&db).await;
    count_inserts_then(&db, "PERFORM pg_sleep(2)").await;
    let pool = pool_with_timeout(&db, Duration::from_millis(200));
    let queue = CreateQueue::start(pool, one_lane());
    for outcome in create_all(&queue, many(8, "slow")).await {
        assert!(
            matches!(outcome, Err(DbError::Timeout)),
            "every request gets the timeout: {outcome:?}"
        );
    }
    // One statement, cancelled in its first row; retrying one by one would have sent 8 more.
    assert_eq!(queue.statements_sent(), 1);
    assert_eq!(insert_attempts(&db).await, 1);
    assert_eq!(count(&db, "SELECT count(*) FROM activities").await, 0);
}

#[tokio::test]
async fn a_backend_terminated_mid_batch_is_resolved_by_resending_the_same_cruds_once() {
    let db = TestDb::new().await;
    with_users(&db).await;
    // The first attempt hangs until the test lets later ones through and ends its session.
    db.client()
        .await
        .batch_execute("CREATE TABLE released (at timestamptz)")
        .await
        .unwrap();
    count_inserts_then(
        &db,
        "IF NEW.message LIKE 'doomed%' AND NOT EXISTS (SELECT 1 FROM released) THEN
           PERFORM pg_sleep(30);
         END IF",
    )
    .await;
    let queue = CreateQueue::start(db.pool().clone(), one_lane());
    let batch = {
        let queue = queue.clone();
        tokio::spawn(async move { create_all(&queue, many(8, "doomed")).await })
    };
    let sleeping = "SELECT count(*) FROM pg_stat_activity
         WHERE wait_event = 'PgSleep' AND datname = current_database()";
    let db_ref = &db;
    wait_until(|| async move { count(db_ref, sleeping).await == 1 }).await;
    db.client()
        .await
        .batch_execute("INSERT INTO released VALUES (now())")
        .await
        .unwrap();
    // 57P01 arrives mid-statement; a shutdown could as well strike just after a commit, so the
    // queue does not take the error as "not written": it resends and reads back.
    let terminated = count(
        &db,
        "SELECT count(*) FROM pg_stat_activity, pg_terminate_backend(pid)
         WHERE wait_event = 'PgSleep' AND datname = current_database()",
    )
    .await;
    assert_eq!(terminated, 1);
    let outcomes = tokio::time::timeout(HANG_GUARD, batch)
        .await
        .unwrap()
        .unwrap();
    assert_each_written_once(&db, &outcomes, "doomed").await;
    assert_eq!(queue.statements_sent(), 2, "the batch, then one resend");
}

#[tokio::test]
async fn a_resent_batch_rejected_for_its_data_is_written_one_by_one() {
    let db = TestDb::new().await;
    with_users(&db).await;
    count_inserts_then(
        &db,
        "IF NEW.message = 'poison' THEN
           RAISE EXCEPTION 'poison rejected' USING ERRCODE = '22023';
         END IF",
    )
    .await;
    let (queue, proxy) = queue_through_proxy(&db, one_lane()).await;
    // The rejection's answer is lost: the queue cannot know the batch was rejected until its
    // resend is.
    proxy.cut_after_commit("cut-here");
    let mut cruds = many(4, "cut-here");
    cruds.push(crud("andrewbrown", "poison"));
    let outcomes = create_all(&queue, cruds).await;
    assert_eq!(proxy.cuts(), 1);
    assert_each_written_once(&db, &outcomes[..4], "cut-here").await;
    match &outcomes[4] {
        Err(DbError::InvalidValue { sqlstate }) => assert_eq!(sqlstate, "22023"),
        other => panic!("only the poison crud fails: {other:?}"),
    }
    // The batch, its resend, then each of the five alone.
    assert_eq!(queue.statements_sent(), 7);
}

#[tokio::test]
async fn a_read_only_database_fails_the_whole_batch_as_unavailable() {
    let db = TestDb::new().await;
    with_users(&db).await;
    // What a client of a demoted primary sees after a failover.
    db.client()
        .await
        .batch_execute(&format!(
            "ALTER DATABASE {} SET default_transaction_read_only = on",
            db.name()
        ))
        .await
        .unwrap();
    let queue = CreateQueue::start(db.pool().clone(), one_lane());
    for outcome in create_all(&queue, many(8, "read-only")).await {
        match outcome {
            Err(DbError::Unavailable { sqlstate, .. }) => {
                assert_eq!(sqlstate.as_deref(), Some("25006"))
            }
            other => panic!("every request is told the database is unavailable: {other:?}"),
        }
    }
    assert_eq!(queue.statements_sent(), 1, "no retry one by one");
}

/// A queue whose connections go through a [`CutProxy`].
async fn queue_through_proxy(
    db: &TestDb,
    settings: CreateQueueSettings,
) -> (CreateQueue, CutProxy) {
    let proxy = CutProxy::start(test_db::cluster().port()).await;
    let url = db.url().expose().replace(
        &format!("127.0.0.1:{}/", test_db::cluster().port()),
        &format!("127.0.0.1:{}/", proxy.port()),
    );
    let settings_db = DatabaseUrl::new(url).parse().unwrap();
    let pool = db::pool::build_pool(&settings_db, &PoolSettings::default()).unwrap();
    (CreateQueue::start(pool, settings), proxy)
}

async fn assert_each_written_once(db: &TestDb, outcomes: &[Outcome], prefix: &str) {
    let mut uuids = HashSet::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        let item = outcome
            .as_ref()
            .unwrap_or_else(|e| panic!("crud {i} committed, so it must be answered: {e}"))
            .as_ref()
            .expect("known author");
        assert_eq!(item.activity.message, format!("{prefix} {i}"));
        uuids.insert(item.activity.uuid);
    }
    let client = db.client().await;
    for uuid in &uuids {
        let n: i64 = client
            .query_one("SELECT count(*) FROM activities WHERE uuid = $1", &[uuid])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1, "crud {uuid} stored once");
    }
    assert_eq!(
        count(db, "SELECT count(*) FROM activities").await,
        i64::try_from(outcomes.len()).unwrap()
    );
}

#[tokio::test]
async fn an_answer_lost_after_commit_is_resolved_by_uuid_not_guessed() {
    let db = TestDb::new().await;
    with_users(&db).await;
    let (queue, proxy) = queue_through_proxy(&db, one_lane()).await;
    proxy.cut_after_commit("lost-answer");
    let started = std::time::Instant::now();
    let outcomes = create_all(&queue, many(8, "lost-answer")).await;
    let batch_took = started.elapsed();
    assert_eq!(proxy.cuts(), 1, "the batch's answer was lost");
    assert_each_written_once(&db, &outcomes, "lost-answer").await;
    // The batch, then the same batch again (skipped: already written) on another connection.
    assert_eq!(queue.statements_sent(), 2);

    // A crud written alone takes the same path.
    proxy.cut_after_commit("alone-lost");
    let started = std::time::Instant::now();
    let outcome = queue.create(crud("bayko", "alone-lost")).await;
    let alone_took = started.elapsed();
    assert_eq!(proxy.cuts(), 2);
    let item = outcome.unwrap().expect("written, and answered as written");
    assert_eq!(item.activity.message, "alone-lost");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM activities WHERE message = 'alone-lost'"
        )
        .await,
        1
    );
    test_db::reliability::Record {
        scenario: "answer lost after commit",
        fault:
            "a proxy drops the database's answer after COMMIT (a batch of 8, then a single crud)",
        requests: 9,
        acknowledged: 9,
        found: 9,
        longest: batch_took.max(alone_took),
        ..Default::default()
    }
    .save();
}

#[tokio::test]
async fn an_unresolvable_outcome_is_unavailable_after_the_bound_and_says_so() {
    let db = TestDb::new().await;
    with_users(&db).await;
    let settings = CreateQueueSettings {
        resolve_within: Duration::from_millis(500),
        ..one_lane()
    };
    let (queue, proxy) = queue_through_proxy(&db, settings).await;
    proxy.cut_after_commit_then_refuse("unreachable");
    let started = std::time::Instant::now();
    let outcomes = create_all(&queue, many(4, "unreachable")).await;
    let took = started.elapsed();
    assert_eq!(proxy.cuts(), 1);
    for outcome in outcomes {
        let err = outcome.expect_err("the outcome could not be checked");
        assert!(err.is_unavailable(), "{err:?}");
        assert!(
            err.to_string().contains("outcome could not be checked"),
            "{err}"
        );
    }
    // They did commit: the client was told "unavailable", never "written" for a lost crud.
    assert_eq!(count(&db, "SELECT count(*) FROM activities").await, 4);
    test_db::reliability::Record {
        scenario: "answer lost, database then unreachable",
        fault: "the answer after COMMIT is dropped and every new connection refused",
        requests: 4,
        refused: 4,
        failed_but_written: 4,
        longest: took,
        ..Default::default()
    }
    .save();
}
