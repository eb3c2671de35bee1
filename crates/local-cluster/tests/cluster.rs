#![allow(clippy::unwrap_used)] // a panic is the failure report of a test
//! The embedded cluster's lifecycle: start, reuse, stop, restart after a crash, and (as root)
//! running as the `postgres` user, relocating when that user cannot reach the folder.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant};

use local_cluster::{Cluster, Durability, EphemeralCluster};
use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, Uid};

/// Stops the cluster even when an assertion fails, so no server outlives the test.
struct StopOnDrop(Cluster);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.stop();
        if self.0.relocated().is_some() {
            let _ = std::fs::remove_dir_all(self.0.root());
        }
    }
}

async fn answers(cluster: &Cluster, port: u16) -> i32 {
    let settings = cluster.url(port, "postgres").unwrap().parse().unwrap();
    let client = db::pool::connect(&settings).await.unwrap();
    client.query_one("SELECT 41 + 1", &[]).await.unwrap().get(0)
}

fn wait_gone(pids: &[i32]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while pids.iter().any(|p| kill(Pid::from_raw(*p), None).is_ok()) {
        assert!(Instant::now() < deadline, "killed processes did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn start_reuse_stop_and_restart_after_a_crash() {
    let home = tempfile::Builder::new()
        .prefix("cruddur-embedded-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = Cluster::open(&home.path().join("cluster"), Durability::Ephemeral).unwrap();
    let guard = StopOnDrop(cluster.clone());
    assert!(cluster.relocated().is_none());

    let first = cluster.start().unwrap();
    assert!(first.started_now);
    assert_eq!(answers(&cluster, first.port).await, 42);
    if Uid::effective().is_root() {
        let owner = std::fs::metadata(cluster.data_dir()).unwrap().uid();
        assert_ne!(
            owner, 0,
            "as root, the data folder belongs to the server user"
        );
    }

    let again = cluster.start().unwrap();
    assert!(!again.started_now, "a running cluster is reused");
    assert_eq!(again.port, first.port);
    assert_eq!(cluster.running_port().unwrap(), Some(first.port));

    // Crash: the postmaster and all its processes die without a shutdown.
    let victims = cluster.server_pids();
    assert!(
        victims.len() > 1,
        "the postmaster and its children: {victims:?}"
    );
    for pid in &victims {
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
    wait_gone(&victims);
    assert!(
        cluster.data_dir().join("postmaster.pid").exists(),
        "the stale pid file is left behind"
    );
    assert_eq!(
        cluster.running_port().unwrap(),
        None,
        "a dead postmaster is not 'running'"
    );

    let restarted = cluster.start().unwrap();
    assert!(restarted.started_now);
    assert_eq!(restarted.port, first.port, "the previous port is reused");
    assert_eq!(answers(&cluster, restarted.port).await, 42);

    assert!(cluster.stop().unwrap());
    assert!(
        !cluster.stop().unwrap(),
        "stopping a stopped cluster is a no-op"
    );
    assert_eq!(cluster.running_port().unwrap(), None);
    drop(guard);
}

// Without root the server runs as ourselves and can reach any folder we can, so there is nothing
// to relocate: the test is ignored by default and `script/test` runs it with `--ignored` as root.
#[tokio::test]
#[ignore = "needs root (script/test runs it with --ignored when root)"]
async fn as_root_an_unreachable_home_is_relocated_and_still_works() {
    assert!(
        Uid::effective().is_root(),
        "this test exercises the root-only relocation; run it as root"
    );
    let locked = tempfile::Builder::new()
        .prefix("cruddur-locked-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let cluster = Cluster::open(&locked.path().join("home"), Durability::Ephemeral).unwrap();
    let guard = StopOnDrop(cluster.clone());
    let why = cluster.relocated().expect("must relocate").to_owned();
    assert!(why.contains("cannot reach"), "{why}");
    assert!(
        cluster.root().starts_with("/var/tmp"),
        "{}",
        cluster.root().display()
    );
    let running = cluster.start().unwrap();
    assert_eq!(answers(&cluster, running.port).await, 42);
    drop(guard);
}

#[test]
fn an_ephemeral_cluster_removes_itself_when_dropped() {
    let cluster = EphemeralCluster::start().unwrap();
    let root = cluster.cluster().root().to_path_buf();
    assert!(root.join("pgdata").is_dir());
    drop(cluster);
    let deadline = Instant::now() + Duration::from_secs(15);
    while root.exists() {
        assert!(Instant::now() < deadline, "{} still exists", root.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Removes a test's relocation folder (or link) before and after it.
struct Scrub(std::path::PathBuf);

impl Scrub {
    fn now(&self) {
        match std::fs::symlink_metadata(&self.0) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&self.0).unwrap(),
            Ok(_) => std::fs::remove_file(&self.0).unwrap(),
            Err(_) => {}
        }
    }
}

impl Drop for Scrub {
    fn drop(&mut self) {
        self.now();
    }
}

#[test]
#[ignore = "needs root (script/test runs it with --ignored when root)"]
fn as_root_a_relocation_folder_someone_else_prepared_is_refused_with_the_reason() {
    assert!(Uid::effective().is_root(), "run as root");
    let locked = tempfile::Builder::new()
        .prefix("cruddur-locked-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(locked.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let home = locked.path().join("home");
    let relocation = Cluster::relocation_for(&home);
    let scrub = Scrub(relocation.clone());
    scrub.now();
    let refusal = || {
        Cluster::open(&home, Durability::Ephemeral)
            .expect_err("must be refused")
            .to_string()
    };

    // The old predictable folder, made by another user (nobody) before us.
    std::fs::create_dir(&relocation).unwrap();
    std::os::unix::fs::chown(&relocation, Some(65_534), Some(65_534)).unwrap();
    let why = refusal();
    assert!(why.contains("owned by uid 65534"), "{why}");
    assert!(why.contains(&relocation.display().to_string()), "{why}");
    assert_eq!(
        std::fs::read_dir(&relocation).unwrap().count(),
        0,
        "nothing written there"
    );
    scrub.now();

    // A link to a folder of the attacker's choosing.
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), &relocation).unwrap();
    let why = refusal();
    assert!(why.contains("symbolic link"), "{why}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    scrub.now();

    // Ours, but anyone may write to it (and so plant links inside).
    std::fs::create_dir(&relocation).unwrap();
    std::fs::set_permissions(&relocation, std::fs::Permissions::from_mode(0o777)).unwrap();
    let why = refusal();
    assert!(why.contains("others may write to it (mode 777)"), "{why}");
    scrub.now();

    // Made by us: accepted.
    let cluster = Cluster::open(&home, Durability::Ephemeral).unwrap();
    assert_eq!(cluster.root(), relocation);
    let meta = std::fs::symlink_metadata(&relocation).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (0, 0o755));
}

#[tokio::test]
async fn links_planted_where_the_cluster_writes_its_files_are_replaced_not_followed() {
    let home = tempfile::Builder::new()
        .prefix("cruddur-planted-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let victims = tempfile::tempdir().unwrap();
    let root = home.path().join("cluster");
    std::fs::create_dir(&root).unwrap();
    for name in ["password", "port"] {
        let victim = victims.path().join(name);
        std::fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, root.join(name)).unwrap();
    }
    let cluster = Cluster::open(&root, Durability::Ephemeral).unwrap();
    let guard = StopOnDrop(cluster.clone());
    let running = cluster.start().unwrap();
    assert_eq!(answers(&cluster, running.port).await, 42);
    for name in ["password", "port"] {
        assert_eq!(
            std::fs::read_to_string(victims.path().join(name)).unwrap(),
            "precious\n",
            "{name}: written through the link"
        );
        let meta = std::fs::symlink_metadata(root.join(name)).unwrap();
        assert!(meta.is_file(), "{name} is now a file of its own");
        assert_eq!(meta.mode() & 0o777, 0o600, "{name}");
    }
    drop(guard);
}

#[tokio::test]
async fn the_server_runs_with_a_minimal_environment_not_ours() {
    let home = tempfile::Builder::new()
        .prefix("cruddur-env-")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let cluster = Cluster::open(&home.path().join("cluster"), Durability::Ephemeral).unwrap();
    let guard = StopOnDrop(cluster.clone());
    cluster.start().unwrap();
    let postmaster = cluster.postmaster_pid().unwrap();
    let environ = std::fs::read(format!("/proc/{postmaster}/environ")).unwrap();
    let keys: Vec<String> = environ
        .split(|b| *b == 0)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let text = String::from_utf8_lossy(entry);
            text.split('=').next().unwrap_or_default().to_owned()
        })
        .collect();
    // cargo gives this test process CARGO_* variables (and CI more): none may reach the server.
    assert!(
        std::env::vars().any(|(k, _)| k.starts_with("CARGO")),
        "the test needs a variable of ours to look for"
    );
    // Ours, then what pg_ctl and postgres set for themselves (and the shell pg_ctl starts it with).
    let allowed = [
        "PATH",
        "LC_ALL",
        "TZ",
        "USER",
        "PGDATA",
        "PGLOCALEDIR",
        "PGSYSCONFDIR",
        "PWD",
        "PG_GRANDPARENT_PID",
    ];
    let foreign: Vec<&String> = keys
        .iter()
        .filter(|k| !allowed.contains(&k.as_str()))
        .collect();
    assert!(foreign.is_empty(), "the server inherited {foreign:?}");
    drop(guard);
}
