//! Nothing acknowledged is lost: the real `cruddur serve` under a bounded create load on
//! 127.0.0.1 while its database is killed (SIGKILL) and restarted, while the server itself is
//! told to stop (SIGTERM), and while more slow requests arrive than it has connections. Every
//! request must end within its bounds with a 200 or an expected refusal; every crud answered 200
//! must be in the database exactly once. Each scenario's figures go to `target/reliability/`
//! (`script/reliability-table` renders them into docs/reliability.md).

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use local_cluster::Durability;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use test_db::reliability::Record;
use test_db::{OwnCluster, TestDb};

use crate::serve::{start_serve, Killed};

/// The server under test; one client address writes it all, so no write limits.
fn serve_without_write_limits(url: &str, envs: &[(&str, &str)]) -> (Killed, String) {
    // Errors only: a crash under load makes a warning of every refused request.
    let mut all = vec![("RUST_LOG", "error")];
    all.extend_from_slice(envs);
    start_serve(url, &["--no-write-limits"], &all)
}

/// A request still unanswered after this has hung: far above every bound of the server
/// (acquire 1 s, connect 5 s, resolving a lost answer 3 s, request timeout 10 s).
const HANG_GUARD: Duration = Duration::from_secs(20);
const CLIENTS: usize = 8;
/// Upper bound on requests per client, whatever the machine's speed.
const MAX_PER_CLIENT: usize = 5_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Created {
        uuid: String,
    },
    /// `503` with one of the codes the scenario expects.
    Refused(String),
    /// The connection was refused, or reset while the request was being written: the server
    /// never took the request (listener closed).
    NotTaken,
    /// The whole request was written, then the connection was reset without a byte of answer:
    /// a dropped request — unless the server never accepted it (still in the listen backlog when
    /// the listener closed), which only the shutdown scenario can excuse.
    ResetAfterSend,
    /// Anything else: another status, a dropped answer, a hang.
    Unexpected(String),
}

#[derive(Debug, Clone)]
struct Outcome {
    /// The crud's message, unique per request; empty for a read.
    message: String,
    kind: Kind,
    started: Instant,
    elapsed: Duration,
}

fn create_once(addr: &str, message: &str, expected_503: &[&str]) -> Outcome {
    let started = Instant::now();
    let body =
        serde_json::json!({"message": message, "ttl": "1-day", "user_handle": "bayko"}).to_string();
    let request = format!(
        "POST /api/activities HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let kind = exchange(addr, &request, expected_503, |body| {
        let json: serde_json::Value = serde_json::from_slice(body).ok()?;
        json["uuid"].as_str().map(str::to_owned)
    });
    Outcome {
        message: message.to_owned(),
        kind,
        started,
        elapsed: started.elapsed(),
    }
}

fn get_once(addr: &str, target: &str, expected_503: &[&str]) -> Outcome {
    let started = Instant::now();
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let kind = exchange(addr, &request, expected_503, |_| Some(String::new()));
    Outcome {
        message: String::new(),
        kind,
        started,
        elapsed: started.elapsed(),
    }
}

/// One request on its own connection; `ok` reads a 200's body.
fn exchange(
    addr: &str,
    request: &str,
    expected_503: &[&str],
    ok: impl Fn(&[u8]) -> Option<String>,
) -> Kind {
    let mut stream = match TcpStream::connect(addr) {
        Ok(stream) => stream,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => return Kind::NotTaken,
        Err(e) => return Kind::Unexpected(format!("connect: {e}")),
    };
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    if let Err(e) = stream.write_all(request.as_bytes()) {
        return if e.kind() == ErrorKind::ConnectionReset {
            Kind::NotTaken
        } else {
            Kind::Unexpected(format!("write: {e}"))
        };
    }
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset && raw.is_empty() => {
            return Kind::ResetAfterSend
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            return Kind::Unexpected(format!("no answer within {HANG_GUARD:?}"))
        }
        Err(e) => return Kind::Unexpected(format!("read: {e}")),
    }
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Kind::Unexpected(format!(
            "answer cut short: {:?}",
            String::from_utf8_lossy(&raw)
        ));
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let status = head.get(9..12).unwrap_or_default();
    match status {
        "200" => match ok(body) {
            Some(uuid) => Kind::Created { uuid },
            None => Kind::Unexpected("200 without a crud".into()),
        },
        "503" => {
            let codes: Vec<String> = serde_json::from_slice(body).unwrap_or_default();
            match codes.as_slice() {
                [code] if expected_503.contains(&code.as_str()) => Kind::Refused(code.clone()),
                _ => Kind::Unexpected(format!("503 {}", String::from_utf8_lossy(body))),
            }
        }
        other => Kind::Unexpected(format!("{other} {}", String::from_utf8_lossy(body))),
    }
}

/// `CLIENTS` threads creating cruds with unique messages until `stop` is set (or each has sent
/// `MAX_PER_CLIENT`).
fn create_load(
    addr: &str,
    tag: &str,
    expected_503: &'static [&'static str],
) -> (Arc<AtomicBool>, Vec<std::thread::JoinHandle<Vec<Outcome>>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let clients = (0..CLIENTS)
        .map(|client| {
            let stop = Arc::clone(&stop);
            let addr = addr.to_owned();
            let tag = tag.to_owned();
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                for i in 0..MAX_PER_CLIENT {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let outcome = create_once(&addr, &format!("{tag} {client}-{i}"), expected_503);
                    if outcome.kind == Kind::NotTaken {
                        // The server is gone (shutdown): do not spin on refused connections.
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    outcomes.push(outcome);
                }
                outcomes
            })
        })
        .collect();
    (stop, clients)
}

fn finish(stop: &AtomicBool, clients: Vec<std::thread::JoinHandle<Vec<Outcome>>>) -> Vec<Outcome> {
    stop.store(true, Ordering::SeqCst);
    clients
        .into_iter()
        .flat_map(|c| c.join().expect("a load client panicked"))
        .collect()
}

/// Compares what clients were told with what the database holds.
async fn tally(
    client: &tokio_postgres::Client,
    scenario: &'static str,
    fault: &'static str,
    outcomes: &[Outcome],
) -> Record {
    let messages: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.message.is_empty())
        .map(|o| o.message.as_str())
        .collect();
    let rows = client
        .query(
            "SELECT message, count(*), array_agg(uuid::text) FROM activities
             WHERE message = ANY($1) GROUP BY message",
            &[&messages],
        )
        .await
        .unwrap();
    let stored: HashMap<String, (i64, Vec<String>)> = rows
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let mut record = Record {
        scenario,
        fault,
        requests: outcomes.len() as u64,
        ..Record::default()
    };
    for outcome in outcomes {
        record.longest = record.longest.max(outcome.elapsed);
        if outcome.message.is_empty() {
            // A read: only whether it was answered as expected counts.
            match outcome.kind {
                Kind::Created { .. } => {}
                Kind::Refused(_) | Kind::NotTaken => record.refused += 1,
                Kind::Unexpected(_) | Kind::ResetAfterSend => record.unexpected_5xx += 1,
            }
            continue;
        }
        let (count, uuids) = stored
            .get(&outcome.message)
            .cloned()
            .unwrap_or((0, Vec::new()));
        record.duplicated += u64::try_from(count - 1).unwrap_or(0);
        match &outcome.kind {
            Kind::Created { uuid } => {
                record.acknowledged += 1;
                if uuids.contains(uuid) {
                    record.found += 1;
                } else {
                    record.lost += 1;
                }
            }
            Kind::Refused(_) | Kind::NotTaken => {
                record.refused += 1;
                if count > 0 {
                    record.failed_but_written += 1;
                }
            }
            Kind::Unexpected(_) | Kind::ResetAfterSend => {
                record.unexpected_5xx += 1;
                if count > 0 {
                    record.failed_but_written += 1;
                }
            }
        }
    }
    record
}

fn assert_nothing_lost(record: &Record, outcomes: &[Outcome]) {
    let unexpected: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| matches!(o.kind, Kind::Unexpected(_) | Kind::ResetAfterSend))
        .take(5)
        .collect();
    assert_eq!(record.unexpected_5xx, 0, "{record:?}: {unexpected:?}");
    assert_eq!(record.lost, 0, "{record:?}");
    assert_eq!(record.duplicated, 0, "{record:?}");
    assert_eq!(record.found, record.acknowledged, "{record:?}");
}

fn still_running(server: &mut Child) -> bool {
    server.try_wait().unwrap().is_none()
}

/// The longest a create may take in the crash scenario: waiting for a connection (1 s), its
/// statement (2 s), resolving a lost answer (3 s), and 2 s for a loaded 2-core machine.
const CRASH_BOUND: Duration = Duration::from_secs(1 + 2 + 3 + 2);
/// The same under overload: acquire (0.5 s) or statement timeout (1 s), plus 1.5 s.
const OVERLOAD_BOUND: Duration = Duration::from_millis(1_000 + 1_500);

/// SIGKILL to the postmaster and every server process of `own`: no shutdown, no checkpoint.
fn crash(own: &OwnCluster) {
    let victims = own.cluster.server_pids();
    for pid in &victims {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while victims
        .iter()
        .any(|p| kill(Pid::from_raw(*p), None).is_ok())
    {
        assert!(Instant::now() < deadline, "killed processes did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn a_database_killed_and_restarted_under_load_loses_and_duplicates_nothing() {
    let own = OwnCluster::start(Durability::Durable, true).await;
    let (mut server, addr) = serve_without_write_limits(
        own.url(test_db::OWN_DATABASE).expose(),
        &[
            ("DB_ACQUIRE_TIMEOUT_MS", "1000"),
            ("DB_STATEMENT_TIMEOUT_MS", "2000"),
        ],
    );
    let (stop, clients) = create_load(&addr, "crash", &["database_unavailable"]);
    std::thread::sleep(Duration::from_secs(3));
    crash(&own);
    // From here until the restart nothing can be written: every server process has exited.
    let dead_from = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    // Nothing could be written between the crash and this moment: the database was dead.
    let restart_began = Instant::now();
    let restarted = own.cluster.start().unwrap();
    assert_eq!(restarted.port, own.port, "restarted on the same port");
    let recovered_at = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    let outcomes = finish(&stop, clients);
    assert!(
        still_running(&mut server.0),
        "the server survived the crash"
    );

    let client = own.connect(test_db::OWN_DATABASE).await;
    let record = tally(
        &client,
        "database crash",
        "postgres SIGKILLed (all its processes), restarted 1 s later",
        &outcomes,
    )
    .await;
    record.save();
    assert_nothing_lost(&record, &outcomes);
    // The crash hit the load: requests refused during the outage, or in flight through the whole
    // dead second and held across it (by the resolution of their lost answers, or queued behind
    // it) until the database was being restarted. Not "in flight when the kill was sent": one
    // batch may commit just before the kill and answer every client, whose next requests then
    // start while `crash` waits for the processes to exit (CI saw exactly that). Not "until
    // `start` returned": a held request may be answered as soon as the database accepts
    // connections again, before `start` has seen it. Without a crash no request lasts a second.
    let across = outcomes
        .iter()
        .filter(|o| o.started <= dead_from && o.started + o.elapsed >= restart_began)
        .count();
    assert!(
        record.refused > 0 || across > 0,
        "the crash was not felt: {record:?}"
    );
    assert!(
        record.longest <= CRASH_BOUND,
        "a request outlasted the pool's bound: {record:?}"
    );
    // Recovered without a restart of the server: cruds written after the database came back,
    // and one more now.
    let late = outcomes
        .iter()
        .filter(|o| o.started > recovered_at && matches!(o.kind, Kind::Created { .. }))
        .count();
    assert!(late > 0, "nothing written after recovery: {record:?}");
    let after = create_once(&addr, "after the crash", &[]);
    assert!(
        matches!(after.kind, Kind::Created { .. }),
        "served {:?} after recovery (recovered {:?} ago)",
        after.kind,
        recovered_at.elapsed()
    );
}

#[tokio::test]
async fn sigterm_under_load_finishes_in_flight_requests_and_exits_zero() {
    let db = TestDb::new().await;
    {
        let mut client = db.client().await;
        db::seeds::seed(&mut client).await.unwrap();
    }
    let (mut server, addr) =
        serve_without_write_limits(db.url().expose(), &[("SHUTDOWN_TIMEOUT_SECS", "10")]);
    let (stop, clients) = create_load(&addr, "shutdown", &[]);
    std::thread::sleep(Duration::from_secs(2));
    let pid = Pid::from_raw(i32::try_from(server.0.id()).unwrap());
    let sigterm_at = Instant::now();
    kill(pid, Signal::SIGTERM).unwrap();
    let deadline = Instant::now() + HANG_GUARD;
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    // The clients go on a little longer: every new connection must now be refused.
    std::thread::sleep(Duration::from_millis(300));
    let mut outcomes = finish(&stop, clients);
    assert!(status.success(), "exit status {status}");
    // A connection still in the listen backlog when the listener closes is reset by the kernel
    // after its request was written: never accepted, so never a dropped request — provided it
    // connected within moments of the SIGTERM. (A reset before that is a dropped request.)
    let backlog_window = sigterm_at.checked_sub(Duration::from_millis(50)).unwrap();
    for outcome in &mut outcomes {
        if outcome.kind == Kind::ResetAfterSend && outcome.started >= backlog_window {
            outcome.kind = Kind::NotTaken;
        }
    }
    let record = tally(
        &db.client().await,
        "graceful shutdown",
        "SIGTERM to the server; clients keep connecting",
        &outcomes,
    )
    .await;
    record.save();
    assert_nothing_lost(&record, &outcomes);
    assert!(record.acknowledged > 0 && record.refused > 0, "{record:?}");
    assert_eq!(record.failed_but_written, 0, "{record:?}");
    let last = outcomes
        .iter()
        .rev()
        .find(|o| !o.message.is_empty())
        .unwrap();
    assert_eq!(
        last.kind,
        Kind::NotTaken,
        "after exit, connections are refused"
    );
}

fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn more_slow_requests_than_connections_end_in_bounded_503s_and_service_resumes() {
    let db = TestDb::new().await;
    {
        let mut client = db.client().await;
        db::seeds::seed(&mut client).await.unwrap();
    }
    let (mut server, addr) = serve_without_write_limits(
        db.url().expose(),
        &[
            ("DB_POOL_MAX_SIZE", "4"),
            ("DB_ACQUIRE_TIMEOUT_MS", "500"),
            ("DB_STATEMENT_TIMEOUT_MS", "1000"),
            ("MAX_IN_FLIGHT", "32"),
            // Every read must reach the database here: the scenario is slow statements.
            ("NO_FEED_CACHE", "true"),
        ],
    );
    // A warm-up burst served normally: the memory baseline includes 64 connections' buffers.
    let warm_up: Vec<_> = (0..64)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || get_once(&addr, "/api/activities/home", &["overloaded"]))
        })
        .collect();
    for outcome in warm_up.into_iter().map(|t| t.join().unwrap()) {
        assert!(
            matches!(outcome.kind, Kind::Created { .. } | Kind::Refused(_)),
            "{outcome:?}"
        );
    }
    let baseline = resident_kib(server.0.id());
    // A migration-like lock: every statement on activities waits behind it.
    let locker = db.client().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE activities IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let expected: &'static [&'static str] = &["database_unavailable", "overloaded"];
    let mut outcomes = Vec::new();
    let mut resident = Vec::new();
    for round in 0..4 {
        let burst: Vec<_> = (0..64)
            .map(|i| {
                let addr = addr.clone();
                std::thread::spawn(move || {
                    if i % 4 == 0 {
                        create_once(&addr, &format!("overload {round}-{i}"), expected)
                    } else {
                        get_once(&addr, "/api/activities/home", expected)
                    }
                })
            })
            .collect();
        outcomes.extend(burst.into_iter().map(|t| t.join().unwrap()));
        resident.push(resident_kib(server.0.id()));
    }
    // statement_timeout ends every statement stuck behind the lock: within it (and a margin),
    // none is left waiting. (A request can be answered 503 by the acquire timeout while the
    // statements holding the pool's connections still wait, for at most the statement timeout.)
    let observer = db.client().await;
    let give_up = Instant::now() + Duration::from_millis(1_000 + 1_000);
    loop {
        let waiting: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = 'cruddur' AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting == 0 {
            break;
        }
        assert!(
            Instant::now() < give_up,
            "{waiting} statement(s) of the server still wait on the lock past statement_timeout"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    locker.batch_execute("COMMIT").await.unwrap();
    for outcome in &outcomes {
        assert!(
            matches!(outcome.kind, Kind::Refused(_)),
            "every request behind the lock is a bounded 503: {outcome:?}"
        );
    }
    // Memory is bounded by the in-flight cap, not by the number of requests sent.
    eprintln!("resident memory: baseline {baseline} KiB, after each burst {resident:?} KiB");
    let peak = resident.iter().copied().max().unwrap();
    assert!(
        peak < baseline + 8 * 1024,
        "resident memory grew from {baseline} KiB to {peak} KiB over the bursts"
    );
    let longest = outcomes.iter().map(|o| o.elapsed).max().unwrap();
    assert!(
        longest <= OVERLOAD_BOUND,
        "a request behind the lock took {longest:?}"
    );
    // Normal service afterwards.
    let after = create_once(&addr, "after the overload", &[]);
    assert!(matches!(after.kind, Kind::Created { .. }), "{after:?}");
    outcomes.push(after);
    assert!(still_running(&mut server.0));
    let record = tally(
        &db.client().await,
        "overload",
        "4 bursts of 64 requests (16 creates) behind a table lock; pool of 4, 32 in flight",
        &outcomes,
    )
    .await;
    record.save();
    assert_nothing_lost(&record, &outcomes);
    assert_eq!(record.failed_but_written, 0, "{record:?}");
}
