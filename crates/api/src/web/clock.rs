//! How a crud's age ("3m") and the time it has left ("6d 23h", the seed's bomb timer) read.
//! `web/app.js` has the same two functions to keep them ticking in the browser; both are tested
//! against the same table of cases (here, and in the Chromium tests).

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

    #[test]
    fn ages_read_in_their_largest_unit() {
        let now = Utc::now();
        for (seconds, text) in [
            (-5, "0s"),
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3_599, "59m"),
            (3_600, "1h"),
            (86_399, "23h"),
            (86_400, "1d"),
            (30 * 86_400, "30d"),
        ] {
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
        for (seconds, text) in [
            (-1, "expired"),
            (0, "expired"),
            (9, "9s"),
            (60, "1m"),
            (3_599, "59m"),
            (3_600, "1h 0m"),
            (43_199, "11h 59m"),
            (86_400, "1d 0h"),
            (7 * 86_400 - 1, "6d 23h"),
        ] {
            assert_eq!(
                left(now + Duration::seconds(seconds), now),
                text,
                "{seconds}"
            );
        }
    }
}
