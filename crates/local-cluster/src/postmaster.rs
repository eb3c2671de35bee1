//! The process a `postmaster.pid` file names, trusted only once `/proc` confirms it is this
//! cluster's server. The file lives in a folder the server user writes, so whoever controls
//! that user (or planted the file) chooses its first line: signalling that PID blindly would let
//! them stop any process, or with `-1` every process, we may signal.

use std::fs;
use std::path::Path;

/// What a `postmaster.pid` file says, as checked against `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// No file, or no process with that PID: nothing runs.
    NothingRuns,
    /// A live PostgreSQL process whose working folder is the data folder: the postmaster
    /// (it changes into its data folder at start).
    Server(i32),
    /// The file names something else: a PID ≤ 0, text that is no PID, or a live process that
    /// is not this cluster's server.
    Other,
}

/// The first line of `data/postmaster.pid`, if the file exists.
fn first_line(data: &Path) -> Option<String> {
    let text = fs::read_to_string(data.join("postmaster.pid")).ok()?;
    Some(text.lines().next().unwrap_or_default().trim().to_owned())
}

/// Checks the PID recorded in `data/postmaster.pid` against `/proc`.
pub(crate) fn recorded(data: &Path) -> Recorded {
    let Some(line) = first_line(data) else {
        return Recorded::NothingRuns;
    };
    let pid = match line.parse::<i32>() {
        Ok(pid) if pid > 0 => pid,
        _ => return Recorded::Other,
    };
    let proc = Path::new("/proc").join(pid.to_string());
    let Ok(comm) = fs::read_to_string(proc.join("comm")) else {
        return Recorded::NothingRuns;
    };
    let works_in_data = match (fs::canonicalize(proc.join("cwd")), fs::canonicalize(data)) {
        (Ok(cwd), Ok(data)) => cwd == data,
        _ => false,
    };
    if comm.trim_end() == "postgres" && works_in_data {
        Recorded::Server(pid)
    } else {
        Recorded::Other
    }
}

/// The `/bin/sh` test the watcher runs before it signals `$pid`: the same rule as [`recorded`],
/// for a shell. `$2` is the data folder.
pub(crate) const SHELL_CHECK: &str = r#"case "$pid" in ''|*[!0-9]*) pid= ;; esac
if [ -n "$pid" ] && [ "$pid" -gt 0 ] \
  && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = postgres ] \
  && [ "$(readlink -f "/proc/$pid/cwd" 2>/dev/null)" = "$(readlink -f "$2")" ]; then
  verified=yes
else
  verified=
fi"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Starts `/bin/sleep 30` under the name `postgres`, in `cwd`, once it has been exec'd.
    fn fake_postgres(bin: &Path, cwd: &Path) -> std::process::Child {
        let fake = bin.join("postgres");
        if !fake.exists() {
            std::os::unix::fs::symlink("/bin/sleep", &fake).unwrap();
        }
        let child = Command::new(&fake)
            .arg("30")
            .current_dir(cwd)
            .spawn()
            .unwrap();
        let comm = Path::new("/proc").join(child.id().to_string()).join("comm");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while fs::read_to_string(&comm).unwrap_or_default().trim_end() != "postgres" {
            assert!(std::time::Instant::now() < deadline, "the fake never ran");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        child
    }

    fn data_with(pid_line: &str) -> tempfile::TempDir {
        let data = tempfile::tempdir().unwrap();
        fs::write(
            data.path().join("postmaster.pid"),
            format!("{pid_line}\n/x\n"),
        )
        .unwrap();
        data
    }

    #[test]
    fn only_a_postgres_process_working_in_the_data_folder_is_the_server() {
        assert_eq!(
            recorded(tempfile::tempdir().unwrap().path()),
            Recorded::NothingRuns
        );
        for planted in ["-1", "0", "", "12x", "4294967296"] {
            assert_eq!(
                recorded(data_with(planted).path()),
                Recorded::Other,
                "{planted:?}"
            );
        }
        // A live process that is not PostgreSQL: ourselves.
        let me = std::process::id().to_string();
        assert_eq!(recorded(data_with(&me).path()), Recorded::Other);
        // A process named postgres that works elsewhere is not this cluster's server either.
        let bin = tempfile::tempdir().unwrap();
        let mut elsewhere = fake_postgres(bin.path(), bin.path());
        let data = data_with(&elsewhere.id().to_string());
        let seen = recorded(data.path());
        // The same program working in the data folder is.
        let mut inside = fake_postgres(bin.path(), data.path());
        fs::write(
            data.path().join("postmaster.pid"),
            format!("{}\n", inside.id()),
        )
        .unwrap();
        let inside_seen = recorded(data.path());
        for child in [&mut elsewhere, &mut inside] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        assert_eq!(seen, Recorded::Other);
        assert_eq!(inside_seen, Recorded::Server(inside.id() as i32));
        // Gone: nothing runs (a stale file after a crash).
        assert_eq!(recorded(data.path()), Recorded::NothingRuns);
    }

    #[test]
    fn the_watchers_shell_check_agrees() {
        let verified = |data: &Path| {
            let out = Command::new("/bin/sh")
                .args([
                    "-c",
                    &format!(
                        "pid=$(head -n 1 \"$2/postmaster.pid\" 2>/dev/null)\n{SHELL_CHECK}\necho \"[$verified]\""
                    ),
                    "sh",
                    "/unused",
                ])
                .arg(data)
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        for planted in ["-1", "0", "", "1 2", "$(touch /tmp/x)"] {
            assert_eq!(verified(data_with(planted).path()), "[]", "{planted:?}");
        }
        assert_eq!(
            verified(data_with(&std::process::id().to_string()).path()),
            "[]"
        );
        let bin = tempfile::tempdir().unwrap();
        let data = tempfile::tempdir().unwrap();
        let mut inside = fake_postgres(bin.path(), data.path());
        fs::write(
            data.path().join("postmaster.pid"),
            format!("{}\n", inside.id()),
        )
        .unwrap();
        let seen = verified(data.path());
        inside.kill().unwrap();
        inside.wait().unwrap();
        assert_eq!(seen, "[yes]");
    }
}
