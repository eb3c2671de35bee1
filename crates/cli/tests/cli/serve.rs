//! `cruddur up` as a user runs it: prepares the embedded database, serves, stops on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const GUARD: Duration = Duration::from_secs(60);

/// Kills the server and stops its cluster if the test fails midway.
struct Server {
    /// Taken by the test once it waits for a graceful exit itself.
    child: Option<Child>,
    home: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = crate::cruddur()
            .env("CRUDDUR_HOME", self.home.path())
            .args(["local", "stop"])
            .output();
    }
}

/// A child process killed (and reaped) when the test ends, passed or failed.
pub(crate) struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends one raw HTTP/1.1 request and reads the whole answer (the request says `Connection: close`).
pub(crate) fn http(addr: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Sends `body` as JSON to `path` with one raw HTTP/1.1 request; the whole answer.
pub(crate) fn post_json(addr: &str, path: &str, body: &str) -> String {
    http(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// `cruddur serve` on 127.0.0.1 (a free port) against `url`, with `args` and `envs` (which may
/// override the defaults: dev mode, `RUST_LOG=warn`); its warnings show in the test's output.
/// Returns the process and its `host:port` once it says it is up.
pub(crate) fn start_serve(url: &str, args: &[&str], envs: &[(&str, &str)]) -> (Killed, String) {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("cruddur"));
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(args)
        .env("CONNECTION_URL", url)
        .env_remove("AWS_COGNITO_USER_POOL_ID")
        .env_remove("AWS_COGNITO_USER_POOL_CLIENT_ID")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, value) in envs {
        command.env(key, value);
    }
    spawn_until_up(&mut command)
}

/// Spawns `serve` as `command` says (its stdout piped); returns the process and its
/// `host:port` once it says it is up.
fn spawn_until_up(command: &mut Command) -> (Killed, String) {
    let mut child = command.stdout(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Killed(child);
    let (tx, rx) = mpsc::channel();
    forward_lines(stdout, tx);
    let addr = loop {
        let line = rx.recv_timeout(GUARD).expect("serve must print its URL");
        if let Some(url) = line.strip_prefix("cruddur is up: http://") {
            break url.trim_end_matches("/api/activities/home").to_owned();
        }
    };
    (server, addr)
}

/// Sends every line `from` prints to `to`, from a thread of its own, until it closes.
pub(crate) fn forward_lines(from: impl Read + Send + 'static, to: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            let _ = to.send(line);
        }
    });
}

#[test]
fn up_serves_the_seeded_feed_accepts_a_crud_and_stops_on_sigterm() {
    let home = tempfile::Builder::new()
        .prefix("cruddur-up-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let child = Command::new(assert_cmd::cargo::cargo_bin("cruddur"))
        .args(["up", "--bind", "127.0.0.1:0"])
        .env("CRUDDUR_HOME", home.path())
        .env_remove("CONNECTION_URL")
        .env_remove("FRONTEND_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server {
        child: Some(child),
        home,
    };
    let stdout = server.child.as_mut().unwrap().stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    forward_lines(stdout, tx);
    let mut printed = Vec::new();
    let url = loop {
        let line = rx.recv_timeout(GUARD).expect("up must print its URL");
        if let Some(url) = line.strip_prefix("cruddur is up: ") {
            break url.to_owned();
        }
        printed.push(line);
    };
    assert!(
        printed
            .iter()
            .any(|l| l.contains("applied V1__initial_schema")),
        "{printed:?}"
    );
    assert!(
        printed
            .iter()
            .any(|l| l.contains("seed: 2 user(s) and 1 crud(s) added")),
        "{printed:?}"
    );
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/api/activities/home")
        .to_owned();

    let feed = http(
        &addr,
        "GET /api/activities/home HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(feed.starts_with("HTTP/1.1 200"), "{feed}");
    assert!(feed.contains("This was imported as seed data!"), "{feed}");

    // With no FRONTEND_URL, dev mode lets the Cruddur frontend's dev server call it.
    for origin in ["http://localhost:3000", "http://127.0.0.1:3000"] {
        let preflight = http(
            &addr,
            &format!(
                "OPTIONS /api/activities HTTP/1.1\r\nHost: localhost\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: content-type\r\nConnection: close\r\n\r\n"
            ),
        );
        assert!(
            preflight.contains(&format!("access-control-allow-origin: {origin}\r\n")),
            "{preflight}"
        );
    }
    let foreign = http(
        &addr,
        "OPTIONS /api/activities HTTP/1.1\r\nHost: localhost\r\nOrigin: http://evil.example\r\nAccess-Control-Request-Method: POST\r\nConnection: close\r\n\r\n",
    );
    assert!(
        !foreign.contains("access-control-allow-origin"),
        "{foreign}"
    );

    let body = r#"{"message":"posted by the up test","ttl":"1-day","user_handle":"bayko"}"#;
    let created = post_json(&addr, "/api/activities", body);
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    let feed = http(
        &addr,
        "GET /api/activities/home HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let first = feed
        .find("posted by the up test")
        .expect("new crud in the feed");
    let seed = feed.find("This was imported as seed data!").unwrap();
    assert!(first < seed, "the new crud comes first");

    let mut child = server.child.take().unwrap();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let status = done_rx
        .recv_timeout(GUARD)
        .expect("up must exit after SIGTERM")
        .unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
}

/// `RUST_LOG=debug` (even naming the driver at trace) turns on the driver's log lines, but
/// never those carrying a statement's values: a posted message, like an email, stays out.
#[tokio::test]
async fn debug_logs_never_carry_what_a_statement_was_given() {
    let db = test_db::TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap();
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("cruddur"));
    command
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("CONNECTION_URL", db.url().expose())
        .env("RUST_LOG", "debug,tokio_postgres=trace")
        .stderr(Stdio::from(log.reopen().unwrap()));
    let (server, addr) = spawn_until_up(&mut command);
    const PRIVATE: &str = "only-for-the-feed-5150";
    let body = format!(r#"{{"message":"{PRIVATE}","ttl":"1-day","user_handle":"bayko"}}"#);
    let created = post_json(&addr, "/api/activities", &body);
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    drop(server);
    let logged = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        logged.contains("tokio_postgres"),
        "the driver's debug lines are on, so their absence below means something: {logged}"
    );
    assert!(!logged.contains(PRIVATE), "{logged}");
}

/// `serve` raises its soft open-file limit to the hard one, and lowers MAX_CONNECTIONS to what
/// the descriptors allow after its own needs, saying so.
#[tokio::test]
async fn the_open_file_limit_is_raised_and_the_connection_cap_fits_in_it() {
    let db = test_db::TestDb::new().await;
    let cruddur = assert_cmd::cargo::cargo_bin("cruddur");
    let run = |limits: &str| {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut command = Command::new("/bin/sh");
        command
            .args([
                "-c",
                &format!("{limits} && exec \"$0\" serve --bind 127.0.0.1:0"),
            ])
            .arg(&cruddur)
            .env("CONNECTION_URL", db.url().expose())
            .env("RUST_LOG", "warn")
            .stderr(Stdio::from(log.reopen().unwrap()));
        let (server, _addr) = spawn_until_up(&mut command);
        let pid = server.0.id();
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
        drop(server);
        let open_files = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap()
            .split_whitespace()
            .skip(3)
            .take(2)
            .map(str::to_owned)
            .collect::<Vec<_>>();
        (open_files, std::fs::read_to_string(log.path()).unwrap())
    };
    // A low soft limit under a higher hard one: raised, and the default cap fits.
    let (open_files, logged) = run("ulimit -Sn 256");
    assert_eq!(
        open_files[0], open_files[1],
        "soft raised to hard: {open_files:?}"
    );
    assert!(!logged.contains("MAX_CONNECTIONS lowered"), "{logged}");
    // A hard limit of 256: the cap comes down to what is left, and the log says so.
    let (open_files, logged) = run("ulimit -n 256");
    assert_eq!(open_files, ["256", "256"]);
    assert!(
        logged.contains("MAX_CONNECTIONS lowered to what the open-file limit allows"),
        "{logged}"
    );
    assert!(logged.contains("configured=2048"), "{logged}");
    assert!(logged.contains("soft_limit=256"), "{logged}");
}
