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

/// A folder in /tmp made for one test, mode 755, removed after it.
fn scratch(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
#[ignore = "needs root (script/test runs it with --ignored when root)"]
fn as_root_a_home_someone_else_can_change_is_refused_and_nothing_changes_owner() {
    assert!(Uid::effective().is_root(), "run as root");
    let base = scratch("cruddur-trust-");
    let refusal = |home: &std::path::Path| {
        Cluster::open(home, Durability::Ephemeral)
            .expect_err("must be refused")
            .to_string()
    };
    let folder = |name: &str, mode: u32, owner: Option<u32>| {
        let path = base.path().join(name);
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        if let Some(uid) = owner {
            std::os::unix::fs::chown(&path, Some(uid), Some(uid)).unwrap();
        }
        path
    };

    // A link to a folder of someone's choosing: refused, and the target keeps its owner.
    let victim = folder("victim", 0o755, None);
    let link = base.path().join("link-home");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let why = refusal(&link);
    assert!(why.contains("that folder: it is a symbolic link"), "{why}");
    assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 0);
    assert_eq!(std::fs::metadata(&victim).unwrap().uid(), 0);

    // Another user's folder, or one anyone may write to.
    let why = refusal(&folder("theirs", 0o755, Some(65_534)));
    assert!(
        why.contains("that folder: it is owned by uid 65534"),
        "{why}"
    );
    let why = refusal(&folder("open", 0o777, None));
    assert!(
        why.contains("that folder: anyone may write to it (mode 777)"),
        "{why}"
    );

    // Ours, but inside a folder another user owns (they can rename what we made there)…
    let theirs = folder("their-checkout", 0o755, Some(65_534));
    let why = refusal(&theirs.join(".cruddur"));
    assert!(
        why.contains(&format!(
            "{} above it: it is owned by uid 65534",
            theirs.display()
        )),
        "{why}"
    );
    // …or inside a folder anyone may write to without the sticky bit.
    let shared = folder("shared", 0o777, None);
    let why = refusal(&shared.join(".cruddur"));
    assert!(
        why.contains("above it: anyone may write to it (mode 777)"),
        "{why}"
    );
    // With the sticky bit (like /tmp) nobody can move what we made: accepted.
    let sticky = folder("sticky", 0o1777, None);
    let cluster = Cluster::open(&sticky.join(".cruddur"), Durability::Ephemeral).unwrap();
    assert_eq!(cluster.root(), sticky.join(".cruddur"));
}

/// A process the server user may signal (as root: `sleep` running as `postgres`).
fn signallable_by_the_server_user() -> std::process::Child {
    local_cluster::ServerUser::detect()
        .unwrap()
        .command(std::path::Path::new("/bin/sleep"))
        .arg("30")
        .spawn()
        .unwrap()
}

#[test]
fn a_postmaster_pid_naming_another_process_is_never_signalled() {
    let home = scratch("cruddur-pidfile-");
    let cluster = Cluster::open(&home.path().join("cluster"), Durability::Ephemeral).unwrap();
    cluster.init().unwrap();
    let mut victim = signallable_by_the_server_user();
    let pid_file = cluster.data_dir().join("postmaster.pid");
    let data = cluster.data_dir().display().to_string();
    let alive = |victim: &mut std::process::Child| victim.try_wait().unwrap().is_none();
    for planted in [victim.id().to_string(), "-1".to_owned()] {
        // The layout PostgreSQL writes: pid, data folder, start time, port.
        std::fs::write(&pid_file, format!("{planted}\n{data}\n1700000000\n1\n")).unwrap();
        for (what, refused) in [("stop", cluster.stop()), ("crash", cluster.crash())] {
            let why = refused.expect_err(what).to_string();
            assert!(
                why.contains("names a process that is not this cluster's PostgreSQL, so nothing was signalled"),
                "{what} with {planted}: {why}"
            );
        }
        assert!(cluster.server_pids().is_empty(), "{planted}");
        assert_eq!(cluster.postmaster_pid(), None, "{planted}");
        std::thread::sleep(Duration::from_millis(200));
        assert!(alive(&mut victim), "{planted}: the process was signalled");
    }
    victim.kill().unwrap();
    victim.wait().unwrap();
    // The file of a server that is gone (a crash) is no reason to refuse.
    std::fs::write(
        &pid_file,
        format!("{}\n{data}\n1700000000\n1\n", victim.id()),
    )
    .unwrap();
    assert!(!cluster.stop().unwrap(), "nothing ran, so nothing stopped");
}

#[test]
fn the_sweeper_signals_no_process_a_leftover_folder_names() {
    let mut victim = signallable_by_the_server_user();
    // A leftover test cluster whose owner is gone, as the sweeper finds them in the temp folder.
    let leftover = std::env::temp_dir().join(format!("cruddur-test-{}-planted", i32::MAX));
    std::fs::create_dir_all(leftover.join("pgdata")).unwrap();
    std::fs::write(leftover.join("owner.pid"), i32::MAX.to_string()).unwrap();
    std::fs::write(
        leftover.join("pgdata/postmaster.pid"),
        format!("{}\n", victim.id()),
    )
    .unwrap();
    let cluster = EphemeralCluster::start().unwrap();
    let swept = !leftover.exists();
    let survived = victim.try_wait().unwrap().is_none();
    drop(cluster);
    victim.kill().unwrap();
    victim.wait().unwrap();
    let _ = std::fs::remove_dir_all(&leftover);
    assert!(swept, "the leftover folder is ours and its owner is gone");
    assert!(
        survived,
        "the sweeper signalled the process postmaster.pid named"
    );
}
