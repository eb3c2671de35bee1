//! A real PgBouncer (Debian's package) in transaction mode in front of the shared cluster, for
//! the run of the API tests behind a pooler (`CRUDDUR_TEST_POOLER=pgbouncer`).
//!
//! It is made hostile on purpose: `server_reset_query_always` runs `DISCARD ALL` after every
//! transaction, so nothing a client leaves in a server session (a prepared statement, a `SET`,
//! an advisory lock) survives to its next statement, and only 4 server connections per
//! database are shared by every client. It runs as the server user (PgBouncer refuses root) and
//! reaches PostgreSQL over the cluster's Unix socket (trust), listening on 127.0.0.1 only. It
//! stops when this process ends: a shell waits on our end of a pipe, then stops it.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use local_cluster::{ServerUser, SERVER_SYSTEM_USER};

/// Where Debian's package puts it.
pub const PGBOUNCER: &str = "/usr/sbin/pgbouncer";

const WATCHER_SCRIPT: &str = r#"PGB="$1"; shift
"$PGB" "$@" &
pid=$!
read _ignored
kill -TERM "$pid" 2>/dev/null
wait "$pid""#;

/// The running pooler; dropping it (or this process ending) stops it.
#[derive(Debug)]
pub struct PgBouncer {
    port: u16,
    _watcher: Child,
    _pipe: ChildStdin,
    _dir: tempfile::TempDir,
}

impl PgBouncer {
    /// Starts it in front of the server whose socket is in `socket_dir` on `pg_port`.
    pub fn start(socket_dir: &Path, pg_port: u16) -> Self {
        let user = ServerUser::detect().expect("a server user");
        let dir = tempfile::Builder::new()
            .prefix("cruddur-pgbouncer-")
            .tempdir_in("/tmp")
            .expect("a folder for pgbouncer");
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("a private folder");
        user.own(dir.path())
            .expect("the folder for the server user");
        let port = free_port();
        let ini = dir.path().join("pgbouncer.ini");
        let userlist = dir.path().join("userlist.txt");
        write_owned(&user, &userlist, "\"postgres\" \"\"\n");
        write_owned(
            &user,
            &ini,
            &format!(
                "[databases]\n* = host={socket} port={pg_port}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\npool_mode = transaction\nserver_reset_query_always = 1\ndefault_pool_size = 4\nmax_client_conn = 2000\nauth_type = trust\nauth_file = {userlist}\nlogfile = {log}\npidfile = {pid}\n",
                socket = socket_dir.display(),
                userlist = userlist.display(),
                log = dir.path().join("pgbouncer.log").display(),
                pid = dir.path().join("pgbouncer.pid").display(),
            ),
        );
        let mut args: Vec<String> = Vec::new();
        if matches!(user, ServerUser::System { .. }) {
            // It refuses root, and drops to this user itself.
            args.extend(["-u".to_owned(), SERVER_SYSTEM_USER.to_owned()]);
        }
        args.push(ini.display().to_string());
        let mut watcher = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHER_SCRIPT)
            .arg("sh")
            .arg(PGBOUNCER)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {PGBOUNCER} (apt-get install pgbouncer): {e}"));
        let pipe = watcher.stdin.take().expect("the watcher's stdin");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || watcher.try_wait().ok().flatten().is_some() {
                let log =
                    std::fs::read_to_string(dir.path().join("pgbouncer.log")).unwrap_or_default();
                panic!("pgbouncer did not start listening on 127.0.0.1:{port}: {log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            port,
            _watcher: watcher,
            _pipe: pipe,
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

fn write_owned(user: &ServerUser, path: &PathBuf, contents: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("a pgbouncer file");
    file.write_all(contents.as_bytes()).expect("write it");
    user.own(path).expect("give it to the server user");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}
