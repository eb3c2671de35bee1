//! `DB_AUTH=secret`: credentials from Secrets Manager (moto on 127.0.0.1) for a real PostgreSQL,
//! the app's least-privilege role, and a password rotated under load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use test_db::TestDb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::moto::{cruddur_aws, fresh_region, sdk_config};
use crate::password;

fn secrets(config: &aws_config::SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

async fn put_secret(region: &str, name: &str, value: serde_json::Value) -> String {
    secrets(&sdk_config(region).await)
        .create_secret()
        .name(name)
        .secret_string(value.to_string())
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned()
}

async fn secret_value(region: &str, arn: &str, stage: &str) -> serde_json::Value {
    let text = secrets(&sdk_config(region).await)
        .get_secret_value()
        .secret_id(arn)
        .version_stage(stage)
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_owned();
    serde_json::from_str(&text).unwrap()
}

/// `db`'s URL with neither user nor password: the secret gives both.
fn bare_url(db: &TestDb) -> String {
    let mut url = url::Url::parse(db.url().expose()).unwrap();
    url.set_username("").unwrap();
    url.set_password(None).unwrap();
    url.to_string()
}

fn port_of(db: &TestDb) -> u16 {
    url::Url::parse(db.url().expose()).unwrap().port().unwrap()
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

/// `db create-app-user --role ROLE --secret NAME` on `db` as its owner; what it printed, and
/// the secret's ARN (from the `DB_SECRET_ARN='…'` line it prints). Its stdout and stderr
/// together come first.
fn create_app_user(region: &str, db: &TestDb, role: &str, secret: &str) -> (String, String) {
    let assert = cruddur_aws(region)
        .args(["db", "create-app-user", "--role", role, "--secret", secret])
        .env("CONNECTION_URL", db.url().expose())
        .assert()
        .success();
    let out = stdout_of(&assert) + &stderr_of(&assert);
    let arn = out
        .split("DB_SECRET_ARN='")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no ARN printed: {out}"))
        .to_owned();
    (out, arn)
}

async fn login(db: &TestDb, user: &str, password: &str) -> Result<tokio_postgres::Client, String> {
    let url = format!(
        "postgres://{user}:{password}@127.0.0.1:{}/{}?sslmode=disable",
        port_of(db),
        db.name()
    );
    let settings = db::DatabaseUrl::new(url).parse().unwrap();
    db::pool::connect(&settings)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_secret_that_is_missing_malformed_or_wrong_is_one_line_naming_the_arn_never_the_password()
{
    let region = fresh_region();
    let db = TestDb::new().await;
    let status = |envs: &[(&str, &str)]| {
        let mut command = cruddur_aws(region);
        command
            .args(["db", "status"])
            .env("CONNECTION_URL", bare_url(&db));
        for (key, value) in envs {
            command.env(key, value);
        }
        command.assert()
    };
    let one_line_error = |assert: &assert_cmd::assert::Assert, expected: &[&str], hidden: &str| {
        let stderr = stderr_of(assert);
        assert!(!stderr.contains(hidden), "{stderr}");
        // The SDK may warn on its own lines; the command's error is one line.
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{stderr}");
        for part in expected {
            assert!(errors[0].contains(part), "{part}: {stderr}");
        }
    };
    let missing =
        format!("arn:aws:secretsmanager:{region}:123456789012:secret:cruddur-missing-AbCdEf");
    let assert = status(&[("DB_AUTH", "secret"), ("DB_SECRET_ARN", &missing)]).failure();
    one_line_error(&assert, &[&missing, "not found"], &password());

    let malformed = put_secret(
        region,
        "cruddur-malformed",
        serde_json::json!({"user": "postgres", "password": password()}),
    )
    .await;
    let assert = status(&[("DB_AUTH", "secret"), ("DB_SECRET_ARN", &malformed)]).failure();
    one_line_error(&assert, &[&malformed, "no `username`"], &password());

    let wrong = put_secret(
        region,
        "cruddur-wrong",
        serde_json::json!({"username": "postgres", "password": "wrong-hunter2"}),
    )
    .await;
    let assert = status(&[("DB_AUTH", "secret"), ("DB_SECRET_ARN", &wrong)]).failure();
    one_line_error(
        &assert,
        &[&wrong, "refused every password"],
        "wrong-hunter2",
    );

    let assert = status(&[("DB_AUTH", "secret")]).failure();
    one_line_error(&assert, &["needs DB_SECRET_ARN"], &password());
    let assert = status(&[("DB_AUTH", "iam")]).failure();
    one_line_error(&assert, &["sslmode=verify-full"], &password());
    status(&[("DB_AUTH", "kerberos")])
        .failure()
        .stderr(predicate::str::contains("kerberos"));

    // The same command with a right secret: the failures above were the secrets'.
    let right = put_secret(
        region,
        "cruddur-right",
        serde_json::json!({"username": "postgres", "password": password()}),
    )
    .await;
    status(&[("DB_AUTH", "secret"), ("DB_SECRET_ARN", &right)])
        .success()
        .stdout(predicate::str::contains("== db-status"))
        .stdout(predicate::str::contains(password()).not());
}

/// The other order of AWS's stale window: the secret already holds a password the database
/// does not know yet (and here never will). The secret's previous version still logs in.
#[tokio::test]
async fn a_secret_ahead_of_the_database_logs_in_with_its_previous_version() {
    let region = fresh_region();
    let db = TestDb::new().await;
    let arn = put_secret(
        region,
        "cruddur-ahead",
        serde_json::json!({"username": "postgres", "password": password()}),
    )
    .await;
    put_password(
        region,
        &arn,
        &serde_json::json!({"username": "postgres"}),
        "not-set-on-the-database",
    )
    .await;
    assert_eq!(
        secret_value(region, &arn, "AWSPREVIOUS").await["password"],
        password().as_str()
    );
    cruddur_aws(region)
        .args(["db", "status"])
        .env("CONNECTION_URL", bare_url(&db))
        .env("DB_AUTH", "secret")
        .env("DB_SECRET_ARN", &arn)
        .assert()
        .success()
        .stdout(predicate::str::contains("== db-status"));
}

#[tokio::test]
async fn create_app_user_keeps_its_password_in_a_secret_and_the_role_gets_rows_but_no_ddl() {
    let region = fresh_region();
    let db = TestDb::new().await;
    let role = format!("app_{}", db.name());
    let (out, arn) = create_app_user(region, &db, &role, "cruddur/app");
    assert!(out.contains(&format!("created role {role}")), "{out}");
    let secret = secret_value(region, &arn, "AWSCURRENT").await;
    let first = secret["password"].as_str().unwrap().to_owned();
    assert_eq!(secret["username"], role.as_str());
    assert_eq!(secret["host"], "127.0.0.1");
    assert_eq!(secret["port"], port_of(&db));
    assert_eq!(secret["dbname"], db.name());
    assert_eq!(first.len(), 40);
    assert!(!out.contains(&first));

    // The secret alone says where and as whom: no CONNECTION_URL.
    cruddur_aws(region)
        .args(["db", "status"])
        .env("DB_AUTH", "secret")
        .env("DB_SECRET_ARN", &arn)
        .assert()
        .success()
        .stdout(predicate::str::contains("== db-status"));

    let app = login(&db, &role, &first).await.unwrap();
    let users: i64 = app
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert!(users >= 0);
    app.execute(
        "UPDATE users SET display_name = display_name WHERE false",
        &[],
    )
    .await
    .unwrap();
    for ddl in [
        "CREATE TABLE intruder (x int)",
        "DROP TABLE activities",
        "ALTER TABLE users ADD COLUMN intruder int",
        "TRUNCATE activities",
        "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (999, 'x', 'x', 'x')",
        "CREATE ROLE intruder",
    ] {
        let err = app.batch_execute(ddl).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{ddl}: {err}"
        );
    }
    let superuser: bool = app
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!superuser);

    // Again: the role is renewed with a new password, the old one stops working, and the
    // secret keeps it as AWSPREVIOUS.
    cruddur_aws(region)
        .args(["db", "create-app-user", "--role", &role, "--secret", &arn])
        .env("CONNECTION_URL", db.url().expose())
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("renewed role {role}")));
    let second = secret_value(region, &arn, "AWSCURRENT").await["password"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, first);
    assert_eq!(
        secret_value(region, &arn, "AWSPREVIOUS").await["password"],
        first.as_str()
    );
    assert!(login(&db, &role, &first).await.is_err());
    login(&db, &role, &second).await.unwrap();

    // The owner (here a superuser) is never turned into the app's role.
    cruddur_aws(region)
        .args(["db", "create-app-user", "--role", "postgres"])
        .env("CONNECTION_URL", db.url().expose())
        .assert()
        .failure()
        .stderr(predicate::str::contains("more than an app's rights"));
}

/// One raw HTTP/1.1 request (`Connection: close`); the status code, or 0 when no answer came.
async fn status_of(addr: &str, request: &str) -> u16 {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return 0;
    };
    if stream.write_all(request.as_bytes()).await.is_err() {
        return 0;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    if !matches!(read, Ok(Ok(_))) {
        return 0;
    }
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Sets the role's password as an operator would by hand.
async fn alter_password(owner: &tokio_postgres::Client, role: &str, password: &str) {
    let statement: String = owner
        .query_one(
            "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)",
            &[&role, &password],
        )
        .await
        .unwrap()
        .get(0);
    owner.batch_execute(&statement).await.unwrap();
}

async fn put_password(region: &str, arn: &str, current: &serde_json::Value, password: &str) {
    let mut next = current.clone();
    next["password"] = serde_json::Value::from(password);
    secrets(&sdk_config(region).await)
        .put_secret_value()
        .secret_id(arn)
        .secret_string(next.to_string())
        .send()
        .await
        .unwrap();
}

/// The test: 32 clients reading the feed and creating for 60 s while the role's
/// password changes three times — twice the database first and the secret a second later,
/// once the other way round — and pooled connections are replaced every second. Run alone
/// (script/test's load stage).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[allow(clippy::print_stderr)] // which request failed, and the load reached, in the test's output
#[ignore = "a 60 s load test: script/test runs it alone with `-- --ignored under_load`"]
async fn under_load_a_rotated_password_fails_no_request_and_loses_no_create() {
    const CLIENTS: usize = 32;
    const RUN: Duration = Duration::from_secs(60);
    let region = fresh_region();
    let db = TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap();
    let role = format!("app_{}", db.name());
    let (_, arn) = create_app_user(region, &db, &role, "cruddur/rotating");
    let aws_env = test_db::moto::sdk_env(region);
    let mut envs: Vec<(&str, &str)> = vec![
        ("DB_AUTH", "secret"),
        ("DB_SECRET_ARN", &arn),
        // Every pooled connection is replaced within a second: new logins all through the run.
        ("DB_MAX_CONNECTION_LIFETIME_SECS", "1"),
    ];
    envs.extend(aws_env.iter().map(|(k, v)| (*k, v.as_str())));
    let (server, addr) = crate::serve::start_serve(&bare_url(&db), &["--no-write-limits"], &envs);
    let owner = db.client().await;
    let started = Instant::now();
    let deadline = started + RUN;
    let failures = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    let creates = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (addr, failures, reads, creates) = (
            addr.clone(),
            failures.clone(),
            reads.clone(),
            creates.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut n = 0u64;
            // Bounded by time and by count.
            while Instant::now() < deadline && n < 100_000 {
                n += 1;
                let (request, counter) = if n.is_multiple_of(2) {
                    let body = serde_json::json!({
                        "message": format!("rotation {client}-{n}"),
                        "ttl": "1-day",
                        "user_handle": "bayko",
                    })
                    .to_string();
                    (
                        format!(
                            "POST /api/activities HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        ),
                        &creates,
                    )
                } else {
                    (
                        "GET /api/activities/home HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".to_owned(),
                        &reads,
                    )
                };
                let code = status_of(&addr, &request).await;
                if (200..300).contains(&code) {
                    counter.fetch_add(1, Ordering::Relaxed);
                } else {
                    failures.fetch_add(1, Ordering::Relaxed);
                    eprintln!("client {client}: {} answered {code}", request.lines().next().unwrap_or_default());
                }
            }
        }));
    }
    // The rotations: the database first, then the secret a second later (twice); then the
    // secret first and the database a second later.
    let mut current = secret_value(region, &arn, "AWSCURRENT").await;
    for (at, secret_first) in [(10, false), (25, false), (40, true)] {
        tokio::time::sleep_until((started + Duration::from_secs(at)).into()).await;
        let next = db::roles::generate_password();
        let next = secrecy::ExposeSecret::expose_secret(&next).to_owned();
        if secret_first {
            put_password(region, &arn, &current, &next).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            alter_password(&owner, &role, &next).await;
        } else {
            alter_password(&owner, &role, &next).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            put_password(region, &arn, &current, &next).await;
        }
        current["password"] = serde_json::Value::from(next);
    }
    for client in clients {
        client.await.unwrap();
    }
    drop(server);
    let (failures, reads, creates) = (
        failures.load(Ordering::Relaxed),
        reads.load(Ordering::Relaxed),
        creates.load(Ordering::Relaxed),
    );
    eprintln!("{reads} reads and {creates} creates answered 2xx, {failures} not");
    assert_eq!(failures, 0, "requests that failed during the rotations");
    assert!(
        reads > 1_000 && creates > 1_000,
        "too little load to prove anything: {reads} reads, {creates} creates"
    );
    let row = owner
        .query_one(
            "SELECT count(*), count(DISTINCT message) FROM activities WHERE message LIKE 'rotation %'",
            &[],
        )
        .await
        .unwrap();
    let (rows, distinct): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(rows, creates as i64, "every answered create is one row");
    assert_eq!(distinct, rows, "no create written twice");
    // The role's password is the last one, and it is what the server now logs in with.
    login(&db, &role, current["password"].as_str().unwrap())
        .await
        .unwrap();
}
