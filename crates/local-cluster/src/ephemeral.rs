//! Throw-away clusters for test processes: started once per process, removed when the process
//! ends — even when it is killed — by a watcher shell that waits for our end of a pipe to close.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use rand::distributions::{Alphanumeric, DistString};

use super::postmaster::{self, Recorded};
use super::{Cluster, Durability, EmbeddedError, ServerUser};
use db::DatabaseUrl;

const PREFIX: &str = "cruddur-test-";
const OWNER_FILE: &str = "owner.pid";

/// Stops the server (immediate shutdown) and deletes the folder once stdin reaches EOF. The PID
/// is signalled only when `/proc` shows it is this cluster's server (see [`postmaster`]).
fn watcher_script() -> String {
    format!(
        r#"read _ignored
pid=$(head -n 1 "$2/postmaster.pid" 2>/dev/null)
{check}
if [ -n "$verified" ]; then
  kill -QUIT "$pid" 2>/dev/null
  i=0
  while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i+1)); done
fi
rm -rf "$1""#,
        check = postmaster::SHELL_CHECK
    )
}

/// A running throw-away cluster. Dropping it (or the process ending) closes `_pipe`, and the
/// watcher then stops the server and removes the folder.
#[derive(Debug)]
pub struct EphemeralCluster {
    cluster: Cluster,
    port: u16,
    _watcher: Child,
    _pipe: ChildStdin,
}

impl EphemeralCluster {
    pub fn start() -> Result<Self, EmbeddedError> {
        let user = ServerUser::detect()?;
        let base = reachable_base(&user)?;
        sweep(&base);
        let name = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            Alphanumeric.sample_string(&mut rand::thread_rng(), 6)
        );
        let root = base.join(name);
        fs::create_dir_all(&root)
            .map_err(|e| EmbeddedError::io(format!("create {}", root.display()), e))?;
        fs::write(root.join(OWNER_FILE), std::process::id().to_string())
            .map_err(|e| EmbeddedError::io("write owner.pid", e))?;
        let cluster = Cluster::open(&root, Durability::Ephemeral)?;
        let (mut watcher, pipe) = spawn_watcher(&root, &cluster.data_dir())?;
        match cluster.start() {
            Ok(running) => Ok(Self {
                cluster,
                port: running.port,
                _watcher: watcher,
                _pipe: pipe,
            }),
            Err(e) => {
                drop(pipe);
                let _ = watcher.wait();
                Err(e)
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    pub fn url(&self, dbname: &str) -> Result<DatabaseUrl, EmbeddedError> {
        self.cluster.url(self.port, dbname)
    }
}

fn spawn_watcher(root: &Path, data: &Path) -> Result<(Child, ChildStdin), EmbeddedError> {
    let mut child = Command::new("/bin/sh")
        .args(["-c", &watcher_script(), "sh"])
        .arg(root)
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a Ctrl-C aimed at the tests must not kill the cleaner.
        .process_group(0)
        .spawn()
        .map_err(|e| EmbeddedError::io("start the cleanup watcher", e))?;
    let pipe = child
        .stdin
        .take()
        .ok_or_else(|| EmbeddedError::Unreachable("watcher has no stdin".into()))?;
    Ok((child, pipe))
}

/// The first temp folder the server user can reach.
fn reachable_base(user: &ServerUser) -> Result<PathBuf, EmbeddedError> {
    let candidates = [
        std::env::temp_dir(),
        PathBuf::from("/var/tmp"),
        PathBuf::from("/tmp"),
    ];
    candidates
        .iter()
        .find(|dir| dir.is_dir() && user.can_reach(dir))
        .cloned()
        .ok_or_else(|| {
            EmbeddedError::Unreachable(format!(
                "{} can reach none of {candidates:?}",
                user.describe()
            ))
        })
}

/// Removes test clusters whose owning process is gone (killed before its watcher could act).
/// Only folders we made (owned by us) are touched, and only a server `/proc` confirms is
/// signalled: anyone may create a folder with our prefix in a shared temp folder.
fn sweep(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let me = nix::unistd::Uid::effective().as_raw();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(PREFIX))
            && fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir() && m.uid() == me);
        if !is_ours || owner_alive(&path) {
            continue;
        }
        if let Recorded::Server(pid) = postmaster::recorded(&path.join("pgdata")) {
            stop_quickly(pid);
        }
        match fs::remove_dir_all(&path) {
            Ok(()) => tracing::info!(path = %path.display(), "swept a leftover test cluster"),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot sweep a leftover test cluster")
            }
        }
    }
}

fn owner_alive(root: &Path) -> bool {
    fs::read_to_string(root.join(OWNER_FILE))
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
        .filter(|pid| *pid > 0)
        .is_some_and(|pid| kill(Pid::from_raw(pid), None).is_ok())
}

fn stop_quickly(pid: i32) {
    let pid = Pid::from_raw(pid);
    if kill(pid, Signal::SIGQUIT).is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while kill(pid, None).is_ok() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}
