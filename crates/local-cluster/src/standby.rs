//! A streaming standby of a cluster, made with `pg_basebackup` from the same server binaries
//! and run by the same server user: the replicated setup on one machine.
//!
//! It lives in `standby/` inside the primary's folder, laid out like the primary (`pgdata/`,
//! `run/`, `password`, `port`, `lock`), and follows the primary over loopback TCP with the
//! superuser's password, kept in a passfile only the server user can read (`primary.pgpass`;
//! `pg_basebackup -R` names it in the standby's `primary_conninfo`). No replication slot is
//! made: a standby stopped for long may find the WAL it needs recycled; `cruddur local standby
//! start --fresh` then copies the primary again.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use super::{remove_entry, tool_failure, write_private, Cluster, EmbeddedError, SUPERUSER};

const FOLDER: &str = "standby";
const PASSFILE: &str = "primary.pgpass";

impl Cluster {
    /// The standby of this cluster (not made or started until [`Cluster::start`]; the primary
    /// must be running when it is first made).
    pub fn standby(&self) -> Result<Cluster, EmbeddedError> {
        let root = self.root.join(FOLDER);
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&root)
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists if root.is_dir() && !root.is_symlink() => Ok(()),
                _ => Err(e),
            })
            .map_err(|e| EmbeddedError::io(format!("create {}", root.display()), e))?;
        Ok(Cluster {
            root,
            binaries: self.binaries.clone(),
            user: self.user.clone(),
            durability: self.durability,
            relocated: None,
            primary: Some(Box::new(self.clone())),
        })
    }

    /// Whether this is a standby made by [`Cluster::standby`].
    pub fn is_standby(&self) -> bool {
        self.primary.is_some()
    }

    /// Removes the standby's copy (stopping it first) so the next start copies the primary anew.
    pub fn forget_copy(&self) -> Result<(), EmbeddedError> {
        if !self.is_standby() {
            return Err(EmbeddedError::Unsafe(
                "refusing to remove a primary's data: only a standby's copy can be made anew"
                    .into(),
            ));
        }
        self.stop()?;
        let _lock = self.lock()?;
        remove_entry(&self.data_dir())
    }

    fn passfile(&self) -> PathBuf {
        self.root.join(PASSFILE)
    }

    /// Copies the running `primary` into this standby's data folder, set up to follow it.
    pub(crate) fn base_backup(&self, primary: &Cluster) -> Result<(), EmbeddedError> {
        let port = primary.running_port()?.ok_or_else(|| {
            EmbeddedError::Unreachable(
                "the primary is not running; start it first (`cruddur local start`)".into(),
            )
        })?;
        let password = fs::read_to_string(primary.password_file())
            .map_err(|e| EmbeddedError::io("read the primary's password", e))?;
        let password = password.trim();
        let (data, run) = self.fresh_folders()?;
        write_private(&self.password_file(), password)?;
        // libpq's passfile format: host:port:database:user:password (`:` and `\` escaped).
        let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
        write_private(
            &self.passfile(),
            &format!("127.0.0.1:{port}:*:{SUPERUSER}:{escaped}\n"),
        )?;
        self.user.own(&self.passfile())?;
        let output = self
            .user
            .command(&self.binaries.tool("pg_basebackup"))
            .env("PGPASSFILE", self.passfile())
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", SUPERUSER])
            .arg("-D")
            .arg(&data)
            // -R: standby.signal and primary_conninfo; -X stream: the WAL made meanwhile too.
            .args(["-R", "-X", "stream", "-c", "fast", "--no-password"])
            .output()
            .map_err(|e| EmbeddedError::io("run pg_basebackup", e))?;
        if !output.status.success() {
            let _ = fs::remove_dir_all(&data);
            return Err(tool_failure("pg_basebackup", &output, None));
        }
        // The copied postgresql.conf names the primary's socket folder; this one has its own.
        // Feedback keeps the primary from removing rows a standby query still reads (no
        // "canceling statement due to conflict with recovery" for the feed).
        self.append_to_conf(&format!(
            "\n# cruddur: a streaming standby, with a socket folder of its own\nunix_socket_directories = '{}'\nhot_standby = on\nhot_standby_feedback = on\n",
            super::conf_quote(&run.display().to_string())
        ))?;
        tracing::info!(data_dir = %data.display(), primary_port = port, "made a standby of the embedded cluster");
        Ok(())
    }
}
