//! The embedded default: a private PostgreSQL cluster run from the machine's server binaries.
//!
//! Layout under the cluster folder (`.cruddur/`, `CRUDDUR_HOME`, or a fallback — see
//! [`Cluster::open`]):
//! ```text
//! pgdata/     the cluster (initdb), owned by the server user
//! run/        Unix socket and server.log, owned by the server user
//! password    the superuser password (mode 0600), used for TCP logins on 127.0.0.1
//! port        the last port used, tried first on the next start so URLs stay valid
//! standby/    a streaming standby of this cluster, laid out the same (see [`Cluster::standby`])
//! ```
//! The server listens on that socket folder and on a free port of 127.0.0.1 only, with
//! scram-sha-256 for TCP, so other local users cannot log in without the password file.
//!
//! Run as root, the folder is a target for other local users, so:
//! - the folder asked for, and every folder above it, must be owned by root or us and writable
//!   by nobody else (a shared folder with the sticky bit, like `/tmp`, is fine above it):
//!   whoever may rename entries there could swap a link in between our checks and our `chown`;
//! - ownership is changed without following links, and a PID from `postmaster.pid` is signalled
//!   only when `/proc` shows it is this cluster's server (see `postmaster.rs`);
//! - a relocated folder (see [`Cluster::open`]) is used only if it is a real directory, owned by
//!   us, and writable by nobody else; anything else there is refused with the reason;
//! - the files we write (`password`, `port`, initdb's password file, the settings appended to
//!   `postgresql.conf`) are opened without following symbolic links; `password`, `port` and the
//!   password file replace whatever entry was there instead of writing through it;
//! - `init` and `start` hold an exclusive lock on `lock` in the folder, so two `cruddur local
//!   start` at once make one cluster and one password file;
//! - `initdb`, `pg_ctl` and `postgres` run with a minimal environment, never ours (which may
//!   hold AWS keys or a production URL).

mod binaries;
mod ephemeral;
mod folder_trust;
mod postmaster;
mod server_user;
mod standby;

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use rand::distributions::{Alphanumeric, DistString};

use db::DatabaseUrl;

pub use binaries::Binaries;
pub use ephemeral::EphemeralCluster;
pub use server_user::{ServerUser, SERVER_SYSTEM_USER};

/// Superuser of the embedded cluster.
pub const SUPERUSER: &str = "postgres";
/// Database the service uses in the embedded cluster.
pub const APP_DATABASE: &str = "cruddur";
/// Longest `pg_ctl start`/`stop` may wait for the server.
pub const PG_CTL_TIMEOUT_SECS: u64 = 30;
const START_ATTEMPTS: usize = 3;
const LOG_TAIL_LINES: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("{0}. Install them: `apt-get install postgresql` (Debian/Ubuntu), `brew install postgresql` (macOS), or set PG_BIN to the folder holding initdb")]
    BinariesNotFound(String),
    #[error("running as root, but PostgreSQL refuses root and there is no `postgres` system user; install the `postgresql` package (it creates the user) or run as a normal user")]
    NoServerUser,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{tool} failed: {detail}")]
    Tool { tool: String, detail: String },
    #[error("{0}")]
    Unreachable(String),
    /// A folder or file we would use is not safe to trust (see the module docs).
    #[error("{0}")]
    Unsafe(String),
}

impl EmbeddedError {
    fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// Whether the server may skip fsync (throw-away test clusters) or must be durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Durable,
    Ephemeral,
}

/// A running server: where to reach it.
#[derive(Debug, Clone)]
pub struct Running {
    pub port: u16,
    /// True when this call started it; false when it was already running.
    pub started_now: bool,
}

/// One cluster folder and the means to run it.
#[derive(Debug, Clone)]
pub struct Cluster {
    root: PathBuf,
    binaries: Binaries,
    user: ServerUser,
    durability: Durability,
    /// Why the cluster lives outside the requested folder, when it does.
    relocated: Option<String>,
    /// For a standby: the cluster it copies and follows.
    primary: Option<Box<Cluster>>,
}

impl Cluster {
    /// The cluster for `home` (created if missing). When we are root and the `postgres` user
    /// cannot reach `home` (e.g. it is under `/root`, mode 700), the cluster lives in
    /// [`Cluster::relocation_for`] `home` instead and [`Cluster::relocated`] says why. That
    /// folder is made by us, or refused if it already exists as anything but a directory owned
    /// by us that nobody else may write to: its name is predictable, so another user could have
    /// prepared it.
    pub fn open(home: &Path, durability: Durability) -> Result<Self, EmbeddedError> {
        let binaries = Binaries::locate()?;
        let user = ServerUser::detect()?;
        let home = absolute(home)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&home)
            .map_err(|e| EmbeddedError::io(format!("create {}", home.display()), e))?;
        folder_trust::refuse_untrusted_home(&home)?;
        let (root, relocated) = if user.can_reach(&home) {
            (home, None)
        } else {
            let fallback = Self::relocation_for(&home);
            folder_trust::own_private_folder(&fallback)?;
            if !user.can_reach(&fallback) {
                return Err(EmbeddedError::Unreachable(format!(
                    "{} cannot reach {} nor {}; set CRUDDUR_HOME to a folder whose parents are all searchable by it",
                    user.describe(),
                    home.display(),
                    fallback.display()
                )));
            }
            let why = format!(
                "{} cannot reach {} (a parent folder is not searchable), so the cluster lives in {}",
                user.describe(),
                home.display(),
                fallback.display()
            );
            (fallback, Some(why))
        };
        Ok(Self {
            root,
            binaries,
            user,
            durability,
            relocated,
            primary: None,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the cluster for `home` lives when the server user cannot reach `home`:
    /// `/var/tmp/cruddur-<uid>-<FNV-1a of the home path>`, stable per home, distinct per user.
    pub fn relocation_for(home: &Path) -> PathBuf {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in home.as_os_str().as_encoded_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        PathBuf::from("/var/tmp").join(format!(
            "cruddur-{}-{hash:016x}",
            nix::unistd::Uid::effective().as_raw()
        ))
    }

    /// Holds the cluster folder's lock until dropped: one `init`/`start` at a time.
    fn lock(&self) -> Result<nix::fcntl::Flock<fs::File>, EmbeddedError> {
        let path = self.root.join("lock");
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&path)
            .map_err(|e| EmbeddedError::io(format!("open {}", path.display()), e))?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, errno)| {
            EmbeddedError::io(format!("lock {}", path.display()), errno.into())
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("pgdata")
    }

    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    pub fn log_file(&self) -> PathBuf {
        self.run_dir().join("server.log")
    }

    pub fn relocated(&self) -> Option<&str> {
        self.relocated.as_deref()
    }

    pub fn binaries(&self) -> &Binaries {
        &self.binaries
    }

    /// The running postmaster's pid: the one `postmaster.pid` names, when `/proc` shows it is
    /// this cluster's server.
    pub fn postmaster_pid(&self) -> Option<i32> {
        match postmaster::recorded(&self.data_dir()) {
            postmaster::Recorded::Server(pid) => Some(pid),
            postmaster::Recorded::NothingRuns | postmaster::Recorded::Other => None,
        }
    }

    /// Refuses to go on when `postmaster.pid` names a live process that is not this cluster's
    /// server (or no PID at all): `pg_ctl` would signal it.
    fn refuse_foreign_pid_file(&self) -> Result<(), EmbeddedError> {
        if postmaster::recorded(&self.data_dir()) == postmaster::Recorded::Other {
            return Err(EmbeddedError::Unsafe(format!(
                "{} names a process that is not this cluster's PostgreSQL, so nothing was signalled; remove the file if no server of this cluster runs",
                self.data_dir().join("postmaster.pid").display()
            )));
        }
        Ok(())
    }

    /// The postmaster and its child processes, read from `/proc`: what a crash test kills.
    pub fn server_pids(&self) -> Vec<i32> {
        let Some(postmaster) = self.postmaster_pid() else {
            return Vec::new();
        };
        let mut pids = vec![postmaster];
        let Ok(entries) = fs::read_dir("/proc") else {
            return pids;
        };
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The field after the state, which follows the parenthesised name, is the parent.
            let parent = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<i32>().ok());
            if parent == Some(postmaster) {
                pids.push(pid);
            }
        }
        pids
    }

    fn port_file(&self) -> PathBuf {
        self.root.join("port")
    }

    fn last_port(&self) -> Option<u16> {
        fs::read_to_string(self.port_file())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn password_file(&self) -> PathBuf {
        self.root.join("password")
    }

    pub fn is_initialized(&self) -> bool {
        self.data_dir().join("PG_VERSION").is_file()
    }

    /// The URL of `dbname` on this cluster at `port`, with the superuser password.
    pub fn url(&self, port: u16, dbname: &str) -> Result<DatabaseUrl, EmbeddedError> {
        let password = fs::read_to_string(self.password_file())
            .map_err(|e| EmbeddedError::io("read the cluster password", e))?;
        Ok(DatabaseUrl::new(format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{port}/{dbname}?sslmode=disable",
            password.trim()
        )))
    }

    /// Runs `initdb` unless the cluster exists. A failed initdb leaves no half-made cluster.
    pub fn init(&self) -> Result<bool, EmbeddedError> {
        let _lock = self.lock()?;
        self.init_locked()
    }

    fn init_locked(&self) -> Result<bool, EmbeddedError> {
        if self.is_initialized() {
            return Ok(false);
        }
        if let Some(primary) = &self.primary {
            self.base_backup(primary)?;
            return Ok(true);
        }
        let (data, run) = self.fresh_folders()?;
        let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        write_private(&self.password_file(), &password)?;
        let pwfile = run.join("initdb.pw");
        write_private(&pwfile, &password)?;
        self.user.own(&pwfile)?;
        let output = self
            .user
            .command(&self.binaries.tool("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output();
        let _ = fs::remove_file(&pwfile);
        let output = output.map_err(|e| EmbeddedError::io("run initdb", e))?;
        if !output.status.success() {
            let _ = fs::remove_dir_all(&data);
            return Err(tool_failure("initdb", &output, None));
        }
        self.append_settings()?;
        tracing::info!(data_dir = %data.display(), "initialized the embedded cluster");
        Ok(true)
    }

    /// Makes `pgdata/` and `run/` anew for the server user and returns them. Whatever is there
    /// (a half-made cluster, or a link planted in its place) goes: never reused.
    fn fresh_folders(&self) -> Result<(PathBuf, PathBuf), EmbeddedError> {
        let data = self.data_dir();
        let run = self.run_dir();
        for dir in [&data, &run] {
            remove_entry(dir)?;
            fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(|e| EmbeddedError::io(format!("create {}", dir.display()), e))?;
            self.user.own(dir)?;
        }
        Ok((data, run))
    }

    fn append_settings(&self) -> Result<(), EmbeddedError> {
        let settings = format!(
            "\n# cruddur: private server, loopback TCP plus a socket in run/\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n",
            conf_quote(&self.run_dir().display().to_string())
        );
        let settings = if self.durability == Durability::Ephemeral {
            settings + "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        } else {
            settings
        };
        self.append_to_conf(&settings)
    }

    /// Appends to `postgresql.conf` (later lines win over earlier ones).
    fn append_to_conf(&self, settings: &str) -> Result<(), EmbeddedError> {
        let conf = self.data_dir().join("postgresql.conf");
        let mut file = fs::OpenOptions::new()
            .append(true)
            .custom_flags(nix::libc::O_NOFOLLOW)
            .open(&conf)
            .map_err(|e| EmbeddedError::io(format!("open {}", conf.display()), e))?;
        std::io::Write::write_all(&mut file, settings.as_bytes())
            .map_err(|e| EmbeddedError::io(format!("write {}", conf.display()), e))
    }

    /// The port of the running server, or `None` when it is not running.
    pub fn running_port(&self) -> Result<Option<u16>, EmbeddedError> {
        if !self.is_initialized() {
            return Ok(None);
        }
        let output = self
            .pg_ctl()
            .arg("status")
            .arg("-D")
            .arg(self.data_dir())
            .output()
            .map_err(|e| EmbeddedError::io("run pg_ctl status", e))?;
        match output.status.code() {
            Some(0) => {}
            Some(3) => return Ok(None),
            _ => return Err(tool_failure("pg_ctl status", &output, None)),
        }
        let pid_file = self.data_dir().join("postmaster.pid");
        let text = fs::read_to_string(&pid_file)
            .map_err(|e| EmbeddedError::io(format!("read {}", pid_file.display()), e))?;
        // Line 4 of postmaster.pid is the port.
        let port = text
            .lines()
            .nth(3)
            .and_then(|l| l.trim().parse::<u16>().ok())
            .ok_or_else(|| EmbeddedError::Tool {
                tool: "postgres".into(),
                detail: format!("{} names no port", pid_file.display()),
            })?;
        Ok(Some(port))
    }

    /// Starts the server (initializing first if needed) or reuses the running one.
    pub fn start(&self) -> Result<Running, EmbeddedError> {
        let _lock = self.lock()?;
        self.init_locked()?;
        if let Some(port) = self.running_port()? {
            if accepts_tcp(port) {
                return Ok(Running {
                    port,
                    started_now: false,
                });
            }
            return Err(EmbeddedError::Unreachable(format!(
                "{} says the server runs on port {port}, but nothing answers there; run `cruddur local stop` or remove that file if no postgres process is left",
                self.data_dir().join("postmaster.pid").display()
            )));
        }
        let mut last_error = None;
        for attempt in 0..START_ATTEMPTS {
            // The previous port first, so URLs people copied keep working across restarts.
            let port = match self
                .last_port()
                .filter(|p| attempt == 0 && port_is_free(*p))
            {
                Some(port) => port,
                None => free_port()?,
            };
            match self.start_on(port) {
                Ok(()) => {
                    if let Err(e) = write_private(&self.port_file(), &port.to_string()) {
                        tracing::warn!(error = %e, "cannot remember the port");
                    }
                    tracing::info!(port, "embedded cluster started");
                    return Ok(Running {
                        port,
                        started_now: true,
                    });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| EmbeddedError::Unreachable("could not start".into())))
    }

    fn start_on(&self, port: u16) -> Result<(), EmbeddedError> {
        let log = self.log_file();
        let log_start = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let output = self
            .pg_ctl()
            .arg("start")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(&log)
            .args(["-w", "-s", "-t", &PG_CTL_TIMEOUT_SECS.to_string()])
            .args(["-o", &format!("-p {port}")])
            .output()
            .map_err(|e| EmbeddedError::io("run pg_ctl start", e))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(tool_failure(
                "pg_ctl start",
                &output,
                Some((&log, log_start)),
            ))
        }
    }

    /// Stops the server (fast shutdown: sessions are ended, data is kept). `Ok(false)` when it
    /// was not running.
    pub fn stop(&self) -> Result<bool, EmbeddedError> {
        self.stop_in("fast")
    }

    /// Stops the server as a crash would (immediate shutdown: every process quits at once, no
    /// checkpoint; the next start recovers from the WAL).
    pub fn crash(&self) -> Result<bool, EmbeddedError> {
        self.stop_in("immediate")
    }

    fn stop_in(&self, mode: &str) -> Result<bool, EmbeddedError> {
        let _lock = self.lock()?;
        self.refuse_foreign_pid_file()?;
        if self.running_port()?.is_none() {
            return Ok(false);
        }
        let output = self
            .pg_ctl()
            .arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args([
                "-m",
                mode,
                "-w",
                "-s",
                "-t",
                &PG_CTL_TIMEOUT_SECS.to_string(),
            ])
            .output()
            .map_err(|e| EmbeddedError::io("run pg_ctl stop", e))?;
        if !output.status.success() {
            return Err(tool_failure("pg_ctl stop", &output, None));
        }
        tracing::info!("embedded cluster stopped");
        Ok(true)
    }

    fn pg_ctl(&self) -> std::process::Command {
        self.user.command(&self.binaries.tool("pg_ctl"))
    }
}

fn absolute(path: &Path) -> Result<PathBuf, EmbeddedError> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .map_err(|e| EmbeddedError::io("read the current folder", e))
    }
}

/// Removes `path` if anything is there (a symbolic link itself, never what it points to).
fn remove_entry(path: &Path) -> Result<(), EmbeddedError> {
    let removed = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    };
    removed.map_err(|e| EmbeddedError::io(format!("remove {}", path.display()), e))
}

/// Writes a fresh file readable by its owner only. Whatever entry had the name is replaced, not
/// written through: a link planted there is removed, never followed.
fn write_private(path: &Path, contents: &str) -> Result<(), EmbeddedError> {
    use std::io::Write;
    remove_entry(path)?;
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| EmbeddedError::io(format!("create {}", path.display()), e))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| EmbeddedError::io(format!("write {}", path.display()), e))
}

/// Quotes a value for postgresql.conf.
fn conf_quote(value: &str) -> String {
    value.replace('\'', "''")
}

fn free_port() -> Result<u16, EmbeddedError> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| EmbeddedError::io("find a free port on 127.0.0.1", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| EmbeddedError::io("find a free port on 127.0.0.1", e))
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).is_ok()
}

fn accepts_tcp(port: u16) -> bool {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into();
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

/// A tool's failure with its stderr and, when given, what the server logged since `offset`.
fn tool_failure(tool: &str, output: &Output, log: Option<(&Path, u64)>) -> EmbeddedError {
    let mut detail = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if let Some((path, offset)) = log {
        let tail = read_tail(path, offset);
        if !tail.is_empty() {
            detail.push_str(&format!(" | server log ({}): {tail}", path.display()));
        }
    }
    if detail.is_empty() {
        detail = format!("exit status {}", output.status);
    }
    EmbeddedError::Tool {
        tool: tool.into(),
        detail,
    }
}

fn read_tail(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = fs::File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_string(&mut text);
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join(" / ")
}
