#![allow(clippy::unwrap_used)] // a panic is the failure report of a test
//! The embedded cluster's lifecycle: start, reuse, stop, restart after a crash, and (as root)
//! running as the `postgres` user, relocating when that user cannot reach the folder.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
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

fn children_of(pid: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Field 4 (after the parenthesised name) is the parent pid.
        let after_name = stat.rsplit_once(") ").map(|(_, rest)| rest).unwrap_or("");
        if after_name
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<i32>().ok())
            == Some(pid)
        {
            found.push(child);
        }
    }
    found
}

fn postmaster_pid(data: &Path) -> i32 {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
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
    let postmaster = postmaster_pid(&cluster.data_dir());
    let mut victims = children_of(postmaster);
    victims.push(postmaster);
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
