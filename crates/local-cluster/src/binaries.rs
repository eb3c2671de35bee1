//! Finding the PostgreSQL server binaries: `PG_BIN`, `pg_config --bindir`,
//! `/usr/lib/postgresql/<newest>/bin`, then `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::EmbeddedError;

const REQUIRED: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// A folder holding `initdb`, `pg_ctl` and `postgres`.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
}

impl Binaries {
    pub fn locate() -> Result<Self, EmbeddedError> {
        if let Some(dir) = std::env::var_os("PG_BIN") {
            let dir = PathBuf::from(dir);
            return if has_server(&dir) {
                Ok(Self { dir })
            } else {
                Err(EmbeddedError::BinariesNotFound(format!(
                    "PG_BIN={} does not contain initdb, pg_ctl and postgres",
                    dir.display()
                )))
            };
        }
        let candidates = pg_config_bindir()
            .into_iter()
            .chain(debian_bindirs())
            .chain(path_dirs());
        for dir in candidates {
            if has_server(&dir) {
                return Ok(Self { dir });
            }
        }
        Err(EmbeddedError::BinariesNotFound(
            "no PostgreSQL server binaries found (looked at PG_BIN, pg_config --bindir, /usr/lib/postgresql/*/bin, PATH)"
                .into(),
        ))
    }

    pub fn tool(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn has_server(dir: &Path) -> bool {
    REQUIRED.iter().all(|tool| dir.join(tool).is_file())
}

fn pg_config_bindir() -> Option<PathBuf> {
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(text.trim()))
}

/// `/usr/lib/postgresql/<major>/bin`, newest major first.
fn debian_bindirs() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") else {
        return Vec::new();
    };
    let mut majors: Vec<(u32, PathBuf)> = entries
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    majors.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    majors.into_iter().map(|(_, dir)| dir).collect()
}

fn path_dirs() -> Vec<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default()
}
