//! What a reliability scenario measured, written as one JSON file per scenario under
//! `target/reliability/` for `script/reliability-table` to turn into `docs/reliability.md`.

use std::path::PathBuf;
use std::time::Duration;

/// One scenario's outcome. `lost`, `duplicated` and `unexpected_5xx` must be 0.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub scenario: &'static str,
    /// What was done to the service while requests ran.
    pub fault: &'static str,
    pub requests: u64,
    /// Creates answered 200 (the service said "written").
    pub acknowledged: u64,
    /// Acknowledged cruds found in the database afterwards.
    pub found: u64,
    /// Acknowledged but not in the database.
    pub lost: u64,
    /// Rows beyond the first for any one request's crud.
    pub duplicated: u64,
    /// Expected refusals: `503 ["database_unavailable"]` and the like, or connections refused.
    pub refused: u64,
    /// Requests answered "not written" (or not answered) whose crud is in the database anyway.
    pub failed_but_written: u64,
    /// 5xx answers other than the expected ones, dropped answers, hangs.
    pub unexpected_5xx: u64,
    pub longest: Duration,
}

impl Record {
    /// Writes `target/reliability/<scenario>.json`.
    pub fn save(&self) {
        let dir = target_dir().join("reliability");
        std::fs::create_dir_all(&dir).expect("create target/reliability");
        let json = serde_json::json!({
            "scenario": self.scenario,
            "fault": self.fault,
            "requests": self.requests,
            "acknowledged": self.acknowledged,
            "found": self.found,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "refused": self.refused,
            "failed_but_written": self.failed_but_written,
            "unexpected_5xx": self.unexpected_5xx,
            "longest_ms": u64::try_from(self.longest.as_millis()).unwrap_or(u64::MAX),
        });
        let file = dir.join(format!("{}.json", self.scenario.replace(' ', "_")));
        std::fs::write(&file, format!("{json:#}\n"))
            .unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    }
}

/// Cargo's target folder: `CARGO_TARGET_DIR`, else `target/` at the workspace root.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    )
}
