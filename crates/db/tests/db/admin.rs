use db::admin::{self, DropOutcome};
use test_db::TestDb;

#[tokio::test]
async fn create_and_drop_a_database_through_the_maintenance_database() {
    let db = TestDb::new().await;
    let maintenance = db::pool::connect(&db.settings().with_dbname("postgres"))
        .await
        .unwrap();
    let name = format!("{}_scratch \"quoted\"", db.name());
    assert!(admin::create_database(&maintenance, &name).await.unwrap());
    assert!(
        !admin::create_database(&maintenance, &name).await.unwrap(),
        "second create reports existing"
    );
    assert!(admin::database_exists(&maintenance, &name).await.unwrap());
    assert!(matches!(
        admin::drop_database(&maintenance, &name, false)
            .await
            .unwrap(),
        DropOutcome::Dropped
    ));
    assert!(matches!(
        admin::drop_database(&maintenance, &name, false)
            .await
            .unwrap(),
        DropOutcome::DidNotExist
    ));
}

#[tokio::test]
async fn drop_with_an_open_session_is_refused_and_lists_it_unless_forced() {
    let db = TestDb::new().await;
    let maintenance = db::pool::connect(&db.settings().with_dbname("postgres"))
        .await
        .unwrap();
    let name = format!("{}_busy", db.name());
    admin::create_database(&maintenance, &name).await.unwrap();
    let busy = db::pool::connect(&db.settings().with_dbname(&name))
        .await
        .unwrap();
    busy.execute("SELECT 1", &[]).await.unwrap();
    match admin::drop_database(&maintenance, &name, false)
        .await
        .unwrap()
    {
        DropOutcome::SessionsOpen(sessions) => {
            assert_eq!(sessions.len(), 1);
            assert_eq!(sessions[0].app.as_deref(), Some("cruddur"));
        }
        other => panic!("expected refusal, got {other:?}"),
    }
    assert!(
        admin::database_exists(&maintenance, &name).await.unwrap(),
        "nothing dropped"
    );
    assert!(matches!(
        admin::drop_database(&maintenance, &name, true)
            .await
            .unwrap(),
        DropOutcome::Dropped
    ));
    assert!(
        busy.execute("SELECT 1", &[]).await.is_err(),
        "the forced drop ended the session"
    );
}

#[tokio::test]
async fn sessions_are_listed_and_killed_per_database() {
    let db = TestDb::new().await;
    let maintenance = db::pool::connect(&db.settings().with_dbname("postgres"))
        .await
        .unwrap();
    let victim = db.client().await;
    victim.execute("SELECT 1", &[]).await.unwrap();
    let listed = admin::list_sessions(&maintenance, Some(db.name()))
        .await
        .unwrap();
    assert!(!listed.is_empty());
    assert!(listed.iter().all(|s| s.db.as_deref() == Some(db.name())));
    let ended = admin::kill_sessions(&maintenance, db.name()).await.unwrap();
    assert!(ended >= 1);
    assert!(victim.execute("SELECT 1", &[]).await.is_err());
    assert!(admin::list_sessions(&maintenance, Some(db.name()))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn row_counts_are_none_before_the_schema_and_exact_after() {
    let empty = TestDb::empty().await;
    assert_eq!(
        admin::count_rows(&empty.client().await).await.unwrap(),
        None
    );
    let db = TestDb::new().await;
    let mut client = db.client().await;
    db::seeds::seed(&mut client).await.unwrap();
    let counts = admin::count_rows(&client).await.unwrap().unwrap();
    assert_eq!((counts.users, counts.activities), (2, 1));
}
