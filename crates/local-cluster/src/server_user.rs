//! PostgreSQL refuses to run as root. When we are root, the server runs as the unprivileged
//! `postgres` system user (created by Debian's `postgresql` package) and owns its folders.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::unistd::{Gid, Uid, User};

use super::EmbeddedError;

/// The system user the server runs as when cruddur runs as root.
pub const SERVER_SYSTEM_USER: &str = "postgres";

/// Who runs `initdb`/`pg_ctl`/`postgres`: ourselves, or (as root) the `postgres` user.
#[derive(Debug, Clone)]
pub enum ServerUser {
    Current,
    System { name: String, uid: Uid, gid: Gid },
}

impl ServerUser {
    pub fn detect() -> Result<Self, EmbeddedError> {
        if !Uid::effective().is_root() {
            return Ok(Self::Current);
        }
        match User::from_name(SERVER_SYSTEM_USER) {
            Ok(Some(user)) => Ok(Self::System {
                name: user.name,
                uid: user.uid,
                gid: user.gid,
            }),
            _ => Err(EmbeddedError::NoServerUser),
        }
    }

    /// A command that runs as this user, from `/` so an unreadable working folder is no issue,
    /// with a minimal environment: ours may hold secrets (AWS keys, `PROD_CONNECTION_URL`) that
    /// the server has no business with, and `PG*` variables that would change what it does.
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir("/")
            .stdin(Stdio::null())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LC_ALL", "C");
        if let Some(tz) = std::env::var_os("TZ") {
            cmd.env("TZ", tz);
        }
        match self {
            Self::System { uid, gid, name } => {
                cmd.uid(uid.as_raw()).gid(gid.as_raw()).env("USER", name);
            }
            Self::Current => {
                if let Some(user) = std::env::var_os("USER") {
                    cmd.env("USER", user);
                }
            }
        }
        cmd
    }

    /// Gives a folder we created to the server user. A link found in its place is what changes
    /// owner, never what it points to.
    pub fn own(&self, path: &Path) -> Result<(), EmbeddedError> {
        if let Self::System { uid, gid, .. } = self {
            std::os::unix::fs::lchown(path, Some(uid.as_raw()), Some(gid.as_raw()))
                .map_err(|e| EmbeddedError::io(format!("chown {}", path.display()), e))?;
        }
        Ok(())
    }

    /// Whether this user can reach `folder` (search permission on it and every parent).
    pub fn can_reach(&self, folder: &Path) -> bool {
        match self {
            Self::Current => true,
            Self::System { .. } => self
                .command(Path::new("/bin/sh"))
                .args(["-c", "test -x \"$1\" && test -r \"$1\"", "sh"])
                .arg(folder)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Current => "the current user".into(),
            Self::System { name, .. } => format!("the `{name}` system user"),
        }
    }
}
