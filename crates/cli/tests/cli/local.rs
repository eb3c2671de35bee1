//! `cruddur local …` and the embedded default of `db …`, each in a private CRUDDUR_HOME.

use std::os::unix::fs::PermissionsExt;

use predicates::prelude::*;

use crate::cruddur;

/// A CRUDDUR_HOME that stops its cluster when the test ends, pass or fail.
struct Home(tempfile::TempDir);

impl Home {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cruddur-cli-home-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Self(dir)
    }

    fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = cruddur();
        cmd.env("CRUDDUR_HOME", self.0.path());
        cmd
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = self.cmd().args(["local", "standby", "stop"]).output();
        let _ = self.cmd().args(["local", "stop"]).output();
    }
}

#[test]
fn local_start_status_stop_and_the_embedded_default_of_db_commands() {
    let home = Home::new();
    home.cmd()
        .args(["local", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("not initialized"));
    home.cmd()
        .args(["local", "start"])
        .assert()
        .success()
        .stdout(predicate::str::contains("started on 127.0.0.1:"))
        .stdout(predicate::str::contains("postgres:****@127.0.0.1"));
    home.cmd()
        .args(["local", "start"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already running"));
    // No URL configured: db commands use the embedded cluster, creating its database.
    home.cmd()
        .args(["db", "migrate"])
        .assert()
        .success()
        .stdout(predicate::str::contains("applied V1__initial_schema"));
    home.cmd().args(["db", "seed"]).assert().success();
    home.cmd()
        .args(["db", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(embedded cluster)"))
        .stdout(predicate::str::contains("rows: users 2, activities 1"));
    home.cmd()
        .args(["local", "stop"])
        .assert()
        .success()
        .stdout(predicate::str::contains("stopped"));
    home.cmd()
        .args(["local", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("stopped"));
    home.cmd()
        .args(["local", "stop"])
        .assert()
        .success()
        .stdout(predicate::str::contains("not running"));
    // Data survives a restart.
    home.cmd()
        .args(["db", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("rows: users 2, activities 1"));
}

#[test]
fn missing_server_binaries_say_what_to_install() {
    let home = Home::new();
    home.cmd()
        .args(["local", "start"])
        .env("PG_BIN", "/nonexistent/pg/bin")
        .assert()
        .failure()
        .stderr(predicate::str::contains("apt-get install postgresql"))
        .stderr(predicate::str::contains("PG_BIN"));
}

#[test]
fn two_local_starts_at_once_on_a_fresh_home_make_one_cluster_whose_password_works() {
    let home = Home::new();
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("cruddur"))
            .args(["local", "start"])
            .env("CRUDDUR_HOME", home.0.path())
            .env_remove("CONNECTION_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let mut ports = Vec::new();
    let mut verbs = Vec::new();
    for output in &outputs {
        let out = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{out} {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let line = out
            .lines()
            .find(|l| l.contains(" on 127.0.0.1:"))
            .unwrap_or_else(|| panic!("no port in {out}"));
        verbs.push(
            line.split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned(),
        );
        ports.push(line.rsplit(':').next().unwrap().trim().to_owned());
    }
    assert_eq!(ports[0], ports[1], "one cluster");
    verbs.sort();
    assert_eq!(
        verbs,
        ["already", "started"],
        "one started it, one found it"
    );
    // The password file matches the cluster: a TCP login with it works.
    home.cmd()
        .args(["db", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("(embedded cluster)"));
}

#[test]
fn a_standby_takes_one_command_and_up_reads_from_it() {
    let home = Home::new();
    home.cmd()
        .args(["local", "standby", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains("not made yet"));
    // The primary is started for it.
    let started = home
        .cmd()
        .args(["local", "standby", "start"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "started the primary on 127.0.0.1:",
        ))
        .stdout(predicate::str::contains(
            "copying the primary (pg_basebackup)",
        ))
        .stdout(predicate::str::contains("started on 127.0.0.1:"))
        .stdout(predicate::str::contains("postgres:****@127.0.0.1"));
    let shown = String::from_utf8_lossy(&started.get_output().stdout).into_owned();
    let password = std::fs::read_to_string(home.0.path().join("password")).unwrap();
    assert!(!shown.contains(password.trim()), "{shown}");
    home.cmd()
        .args(["local", "standby", "status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "role: standby, WAL receiver streaming",
        ));

    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cruddur"))
        .args(["up", "--read-local-standby", "--bind", "127.0.0.1:0"])
        .env("CRUDDUR_HOME", home.0.path())
        .env_remove("CONNECTION_URL")
        .env_remove("READ_CONNECTION_URL")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = crate::serve::Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    crate::serve::forward_lines(server.0.stdout.take().unwrap(), tx.clone());
    crate::serve::forward_lines(server.0.stderr.take().unwrap(), tx);
    // Two pipes: the log line and the banner may arrive in either order.
    let standby_port = std::fs::read_to_string(home.0.path().join("standby/port")).unwrap();
    let reads_there = format!("read_standbys=127.0.0.1:{}", standby_port.trim());
    let mut printed = Vec::new();
    let mut addr = None;
    while addr.is_none() || !printed.iter().any(|l: &String| l.contains(&reads_there)) {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!("up never said it is up reading from the standby: {printed:?}")
            });
        if let Some(url) = line.strip_prefix("cruddur is up: http://") {
            addr = Some(url.trim_end_matches("/api/activities/home").to_owned());
        }
        printed.push(line);
    }
    let addr = addr.unwrap();
    let answer = crate::serve::http(
        &addr,
        "GET /api/activities/home HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The primary would have answered too: the standby's own sessions show where reads go.
    // The first reads may precede the watcher's first proof that the standby keeps up (and the
    // feed is kept in memory), so user pages are read until one reaches it, for at most 20 s.
    let password = std::fs::read_to_string(home.0.path().join("standby/password")).unwrap();
    let standby = db::DatabaseUrl::new(format!(
        "postgres://postgres:{}@127.0.0.1:{}/cruddur?sslmode=disable",
        password.trim(),
        standby_port.trim()
    ));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let client = runtime
        .block_on(db::pool::connect(&standby.parse().unwrap()))
        .unwrap();
    let sessions = || -> i64 {
        runtime
            .block_on(client.query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cruddur' AND pid <> pg_backend_pid()",
                &[],
            ))
            .unwrap()
            .get(0)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut served = 0;
    while served == 0 && std::time::Instant::now() < deadline {
        let page = crate::serve::http(
            &addr,
            "GET /api/activities/@andrewbrown HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        served = sessions();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(served >= 1, "no session of the server on the standby");
    drop(server);
    home.cmd()
        .args(["local", "standby", "stop"])
        .assert()
        .success()
        .stdout(predicate::str::contains("stopped"));
}
