//! How a crud's age ("3m") and the time it has left ("6d 23h", the seed's bomb timer) read.
//! `web/app.js` has the same two functions to keep them ticking in the browser; both are tested
//! against one table of cases, `clock_cases.json` (here, and in the Chromium tests).

use chrono::{DateTime, Utc};

const MINUTE: i64 = 60;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Time since `created`, in its largest unit: `12s`, `3m`, `5h`, `2d` (`0s` for a clock behind).
pub fn age(created: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - created).num_seconds().max(0);
    match seconds {
        s if s < MINUTE => format!("{s}s"),
        s if s < HOUR => format!("{}m", s / MINUTE),
        s if s < DAY => format!("{}h", s / HOUR),
        s => format!("{}d", s / DAY),
    }
}

/// Time until `expires`, in its two largest units: `6d 23h`, `11h 59m`, `42m`, `9s`; `expired`
/// once it has passed.
pub fn left(expires: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (expires - now).num_seconds();
    match seconds {
        s if s <= 0 => "expired".to_owned(),
        s if s < MINUTE => format!("{s}s"),
        s if s < HOUR => format!("{}m", s / MINUTE),
        s if s < DAY => format!("{}h {}m", s / HOUR, (s % HOUR) / MINUTE),
        s => format!("{}d {}h", s / DAY, (s % DAY) / HOUR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    /// The one table of cases: the page's script is checked against this same file in Chromium
    /// (tests/browser/web_pages.mjs).
    fn cases(kind: &str) -> Vec<(i64, String)> {
        let table: serde_json::Value =
            serde_json::from_str(include_str!("clock_cases.json")).unwrap();
        let rows: Vec<(i64, String)> = table[kind]
            .as_array()
            .unwrap_or_else(|| panic!("no {kind} cases"))
            .iter()
            .map(|row| {
                (
                    row[0].as_i64().unwrap(),
                    row[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(rows.len() >= 9, "{kind}: the table lost cases");
        rows
    }

    #[test]
    fn ages_read_in_their_largest_unit() {
        let now = Utc::now();
        for (seconds, text) in cases("age") {
            assert_eq!(
                age(now - Duration::seconds(seconds), now),
                text,
                "{seconds}"
            );
        }
    }

    #[test]
    fn time_left_reads_in_two_units_until_it_is_gone() {
        let now = Utc::now();
        for (seconds, text) in cases("left") {
            assert_eq!(
                left(now + Duration::seconds(seconds), now),
                text,
                "{seconds}"
            );
        }
    }
}
