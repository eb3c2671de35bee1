use predicates::prelude::*;
use test_db::TestDb;

use crate::{cruddur, database_exists, password, url_of};

#[tokio::test]
async fn create_then_drop_a_scratch_database_by_url() {
    let holder = TestDb::new().await;
    let name = format!("{}_scratch", holder.name());
    let url = url_of(&name);
    cruddur()
        .args(["db", "create"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains("== db-create"))
        .stdout(predicate::str::contains(format!("created database {name}")));
    assert!(database_exists(&name).await);
    cruddur()
        .args(["db", "create"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains("already exists"));
    cruddur()
        .args(["db", "drop"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("dropped database {name}")));
    assert!(!database_exists(&name).await);
}

#[tokio::test]
async fn migrate_status_and_seed_on_an_empty_database() {
    let db = TestDb::empty().await;
    let url = db.url().expose().to_owned();
    cruddur()
        .args(["db", "status"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains("pending"))
        .stdout(predicate::str::contains("schema not loaded"));
    cruddur()
        .args(["db", "schema-load"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains("applied V1__initial_schema"));
    cruddur()
        .args(["db", "migrate"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing to apply"));
    cruddur()
        .args(["db", "seed", "--demo", "300", "--allow-demo-users"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "seed: 2 user(s) and 1 crud(s) added",
        ))
        .stdout(predicate::str::contains(
            "demo: 10 user(s) and 300 crud(s) added",
        ));
    let assert = cruddur()
        .args(["db", "status"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success();
    let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(out.contains("rows: users 12, activities 301"), "{out}");
    assert!(out.contains("12 applied, 0 pending"), "{out}");
    assert!(
        !out.contains(&password()),
        "status must mask the password: {out}"
    );
    assert!(out.contains("postgres:****@127.0.0.1"), "{out}");
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[tokio::test]
async fn drop_with_an_open_session_fails_naming_it_and_force_drops() {
    let holder = TestDb::new().await;
    let name = format!("{}_busy", holder.name());
    let url = url_of(&name);
    cruddur()
        .args(["db", "create"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success();
    let settings = db::DatabaseUrl::new(url.clone()).parse().unwrap();
    let session = db::pool::connect(&settings).await.unwrap();
    session.execute("SELECT 1", &[]).await.unwrap();
    cruddur()
        .args(["db", "drop"])
        .env("CONNECTION_URL", &url)
        .assert()
        .failure()
        .stderr(predicate::str::contains("1 open session(s)"))
        .stderr(predicate::str::contains("app cruddur"))
        .stderr(predicate::str::contains("--force"));
    assert!(
        database_exists(&name).await,
        "refused drop keeps the database"
    );
    cruddur()
        .args(["db", "drop", "--force"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success();
    assert!(!database_exists(&name).await);
}

#[tokio::test]
async fn destructive_prod_commands_refuse_without_yes_and_change_nothing() {
    let db = TestDb::new().await;
    let url = db.url().expose().to_owned();
    for args in [
        vec!["db", "drop", "--prod"],
        vec!["db", "setup", "--prod"],
        vec!["db", "kill-sessions", "--prod"],
    ] {
        cruddur()
            .args(&args)
            .env("PROD_CONNECTION_URL", &url)
            .assert()
            .failure()
            .stderr(predicate::str::contains("without --yes"))
            .stderr(predicate::str::contains(password()).not());
    }
    assert!(database_exists(db.name()).await);
}

#[tokio::test]
async fn prod_with_yes_runs_against_prod_connection_url() {
    let holder = TestDb::new().await;
    let name = format!("{}_prod", holder.name());
    let url = url_of(&name);
    cruddur()
        .args(["db", "setup", "--prod", "--yes", "--allow-demo-users"])
        .env("PROD_CONNECTION_URL", &url)
        .env(
            "CONNECTION_URL",
            "postgres://wrong@127.0.0.1:1/not_this_one",
        )
        .assert()
        .success()
        .stdout(predicate::str::contains("== db-setup"))
        .stdout(predicate::str::contains(
            "seed: 2 user(s) and 1 crud(s) added",
        ));
    assert!(database_exists(&name).await);
    cruddur()
        .args(["db", "drop", "--prod", "--yes"])
        .env("PROD_CONNECTION_URL", &url)
        .assert()
        .success();
    assert!(!database_exists(&name).await);
}

#[tokio::test]
async fn prod_without_the_variable_says_which_is_missing() {
    cruddur()
        .args(["db", "status", "--prod"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("PROD_CONNECTION_URL"));
}

#[tokio::test]
async fn setup_recreates_a_database_with_seed_rows_only() {
    let db = TestDb::new().await;
    let url = db.url().expose().to_owned();
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO users (display_name, handle, email, cognito_user_id) VALUES ('X', 'x', 'x@x', 'sub-x')",
            &[],
        )
        .await
        .unwrap();
    drop(client);
    db.pool().close();
    cruddur()
        .args(["db", "setup", "--force", "--allow-demo-users"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains("dropped database"))
        .stdout(predicate::str::contains("applied V1__initial_schema"));
    let handles: Vec<String> = db
        .client()
        .await
        .query("SELECT handle FROM users ORDER BY handle", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(handles, ["andrewbrown", "bayko"]);
}

#[tokio::test]
async fn sessions_lists_and_kill_sessions_ends_them() {
    let db = TestDb::new().await;
    let url = db.url().expose().to_owned();
    let victim = db.client().await;
    victim.execute("SELECT 1", &[]).await.unwrap();
    let assert = cruddur()
        .args(["db", "sessions"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success();
    let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(out.contains("== db-sessions"), "{out}");
    assert!(
        out.contains("pid") && out.contains("client") && out.contains("state"),
        "{out}"
    );
    assert!(out.contains(db.name()), "{out}");
    cruddur()
        .args(["db", "kill-sessions"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains("terminated"));
    assert!(victim.execute("SELECT 1", &[]).await.is_err());
}

#[tokio::test]
async fn connect_runs_psql_on_the_database_without_the_password_on_its_command_line() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    db::seeds::seed(&mut client).await.unwrap();
    let url = db.url().expose().to_owned();
    let assert = cruddur()
        .args(["db", "connect"])
        .env("CONNECTION_URL", &url)
        .write_stdin("SELECT handle FROM users ORDER BY handle;\n")
        .assert()
        .success();
    let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(
        out.contains("andrewbrown") && out.contains("bayko"),
        "{out}"
    );
    assert!(!out.contains(&password()), "{out}");
}

#[tokio::test]
async fn lambda_invoke_records_the_example_user_once_and_prints_the_event() {
    let db = TestDb::new().await;
    let url = db.url().expose().to_owned();
    let event = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/lambda/example-event.json"
    );
    for _ in 0..2 {
        let assert = cruddur()
            .args(["lambda", "invoke", "--event", event])
            .env("CONNECTION_URL", &url)
            .assert()
            .success();
        let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
        let printed: serde_json::Value =
            serde_json::from_str(out.trim_start_matches("== lambda-invoke").trim()).unwrap();
        let original: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(event).unwrap()).unwrap();
        assert_eq!(printed, original);
    }
    let count: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM users WHERE handle = 'cruddurtester'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1, "the second run inserts nothing");
    cruddur()
        .args(["lambda", "invoke", "--event", "/nonexistent.json"])
        .env("CONNECTION_URL", &url)
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot read /nonexistent.json"));
}
