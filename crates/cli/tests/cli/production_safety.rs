//! A database that is not the developer's own is treated as someone's production: no password
//! in argv, nothing destroyed without `--yes`, no demo users squatting handles.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use predicates::prelude::*;
use test_db::TestDb;

use crate::serve::{forward_lines, Killed};
use crate::{cruddur, password, url_of};

const SECRET: &str = "hunter2-secret";
/// TEST-NET-1 (RFC 5737): not loopback, and nothing answers there.
const REMOTE: &str = "192.0.2.1";

#[test]
fn a_password_in_url_is_refused_before_anything_runs() {
    for url in [
        format!("postgres://u:{SECRET}@127.0.0.1:1/db"),
        format!("postgres://u@127.0.0.1:1/db?password={SECRET}"),
    ] {
        cruddur()
            .args(["db", "status", "--url", &url])
            .assert()
            .failure()
            .stderr(predicate::str::contains("process list"))
            .stderr(predicate::str::contains("PGPASSWORD"))
            .stderr(predicate::str::contains(SECRET).not());
    }
}

#[tokio::test]
async fn pgpassword_completes_a_url_given_without_one() {
    let db = TestDb::new().await;
    let port = test_db::cluster().port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/{}", db.name());
    cruddur()
        .args(["db", "status", "--url", &url])
        .env("PGPASSWORD", password())
        .assert()
        .success()
        .stdout(predicate::str::contains("== db-status"));
    cruddur()
        .args(["db", "status", "--url", &url])
        .env_remove("PGPASSWORD")
        .assert()
        .failure()
        .stderr(predicate::str::contains("password missing"));
}

#[test]
fn read_and_direct_urls_with_a_password_are_refused_on_the_command_line() {
    for flag in ["--read-connection-url", "--direct-connection-url"] {
        crate::cruddur()
            .args(["serve", flag, "postgres://u:hunter2@127.0.0.1:1/db"])
            .env_remove("READ_CONNECTION_URL")
            .env_remove("DIRECT_CONNECTION_URL")
            .assert()
            .failure()
            .stderr(predicates::str::contains(format!(
                "{flag} holds a password"
            )))
            .stderr(predicates::str::contains("hunter2").not());
    }
}

#[test]
fn the_hidden_connection_url_flags_refuse_a_password_like_url_does() {
    for (flag, prod) in [("--connection-url", false), ("--prod-connection-url", true)] {
        let mut args = vec!["db", "status", flag, "postgres://u:hunter2@127.0.0.1:1/db"];
        if prod {
            args.push("--prod");
        }
        crate::cruddur()
            .args(&args)
            .env_remove("CONNECTION_URL")
            .env_remove("PROD_CONNECTION_URL")
            .assert()
            .failure()
            .stderr(predicates::str::contains(format!(
                "{flag} holds a password"
            )))
            .stderr(predicates::str::contains("hunter2").not());
    }
}

#[test]
fn destructive_commands_on_a_database_elsewhere_refuse_without_yes() {
    let url = format!("postgres://admin:{SECRET}@{REMOTE}:5432/cruddur?connect_timeout=1");
    for args in [
        vec!["db", "drop"],
        vec!["db", "drop", "--force"],
        vec!["db", "setup", "--force"],
        vec!["db", "kill-sessions"],
    ] {
        cruddur()
            .args(&args)
            .env("CONNECTION_URL", &url)
            .assert()
            .failure()
            .stderr(predicate::str::contains(
                "on a database that is not on this machine",
            ))
            .stderr(predicate::str::contains("without --yes"))
            .stderr(predicate::str::contains(SECRET).not());
    }
    // With --yes the guard lets it through: what stops it now is the unreachable server.
    cruddur()
        .args(["db", "drop", "--yes"])
        .env("CONNECTION_URL", &url)
        .assert()
        .failure()
        .stderr(predicate::str::contains("without --yes").not())
        .stderr(predicate::str::contains("cannot connect"))
        .stderr(predicate::str::contains(SECRET).not());
}

async fn users(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn seed_and_setup_add_demo_users_outside_the_embedded_cluster_only_when_asked() {
    let db = TestDb::new().await;
    let url = db.url().expose().to_owned();
    cruddur()
        .args(["db", "seed"])
        .env("CONNECTION_URL", &url)
        .assert()
        .failure()
        .stderr(predicate::str::contains("--allow-demo-users"));
    assert_eq!(users(&db).await, 0);
    db.pool().close();
    cruddur()
        .args(["db", "setup", "--force"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains("seed: skipped"));
    assert_eq!(users(&db).await, 0, "setup seeds no demo users");
    cruddur()
        .args(["db", "seed", "--allow-demo-users"])
        .env("CONNECTION_URL", &url)
        .assert()
        .success()
        .stdout(predicate::str::contains("seed: 2 user(s)"));
    assert_eq!(users(&db).await, 2);
}

#[tokio::test]
async fn up_on_an_empty_database_elsewhere_serves_it_without_demo_users() {
    let db = TestDb::new().await;
    let child = Command::new(assert_cmd::cargo::cargo_bin("cruddur"))
        .args(["up", "--bind", "127.0.0.1:0"])
        .env("CONNECTION_URL", db.url().expose())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Killed(child);
    let (tx, rx) = mpsc::channel();
    forward_lines(server.0.stdout.take().unwrap(), tx);
    let mut printed = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("up must start; printed {printed:?}"));
        if line.starts_with("cruddur is up: ") {
            break;
        }
        printed.push(line);
    }
    assert!(
        printed.iter().any(|l| l.contains("seed: skipped")),
        "{printed:?}"
    );
    assert_eq!(users(&db).await, 0, "up added no demo users");
}

#[tokio::test]
async fn connect_passes_the_password_in_a_private_file_never_argv_or_env() {
    let db = TestDb::new().await;
    let port = test_db::cluster().port();
    // The password as user info, and as a query parameter.
    for url in [
        url_of(db.name()),
        format!(
            "postgres://postgres@127.0.0.1:{port}/{}?password={}&sslmode=disable",
            db.name(),
            password()
        ),
    ] {
        psql_call_for(&url, db.name());
    }
}

/// Runs `db connect` on `url` with a fake psql that records its arguments, its environment and
/// the password file it was given.
fn psql_call_for(url: &str, dbname: &str) {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("psql-call");
    let fake = dir.path().join("psql");
    // Records what a process listing would show, the environment (as /proc/PID/environ would),
    // and the password file's path, mode and content.
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{0}'\nenv > '{0}.env'\nprintf '%s\\n' \"$PGPASSFILE\" > '{0}.file'\nstat -c %a \"$PGPASSFILE\" >> '{0}.file'\ncat \"$PGPASSFILE\" >> '{0}.file'\n",
            record.display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    cruddur()
        .args(["db", "connect"])
        .env("CONNECTION_URL", url)
        .env("PATH", path)
        .env_remove("PGPASSWORD")
        .assert()
        .success();
    let call = std::fs::read_to_string(&record).unwrap();
    assert!(call.contains(dbname), "psql got the database: {call}");
    assert!(
        !call.lines().any(|l| l.contains(&password())),
        "password in argv: {call}"
    );
    let env = std::fs::read_to_string(format!("{}.env", record.display())).unwrap();
    assert!(!env.contains(&password()), "password in psql's environment");
    let file = std::fs::read_to_string(format!("{}.file", record.display())).unwrap();
    let mut lines = file.lines();
    let path = lines.next().unwrap();
    assert_eq!(lines.next(), Some("600"), "{file}");
    assert_eq!(
        lines.next(),
        Some(format!("*:*:*:*:{}", password()).as_str()),
        "the password file holds the password"
    );
    assert!(
        !std::path::Path::new(path).exists(),
        "the password file is removed when psql exits"
    );
}
