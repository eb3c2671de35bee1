//! How long a crud lives before it disappears from the feeds.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown ttl; expected one of {}", Ttl::names().join(", "))]
pub struct TtlError;

/// The seven lifetimes the Cruddur frontend offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ttl {
    ThirtyDays,
    SevenDays,
    ThreeDays,
    OneDay,
    TwelveHours,
    ThreeHours,
    OneHour,
}

impl Ttl {
    pub const ALL: [Ttl; 7] = [
        Ttl::ThirtyDays,
        Ttl::SevenDays,
        Ttl::ThreeDays,
        Ttl::OneDay,
        Ttl::TwelveHours,
        Ttl::ThreeHours,
        Ttl::OneHour,
    ];

    /// The one a form preselects.
    pub const DEFAULT: Ttl = Ttl::SevenDays;

    /// The wire names, in [`Self::ALL`]'s order.
    pub fn names() -> [&'static str; 7] {
        Ttl::ALL.map(Ttl::as_str)
    }

    /// The wire name, e.g. `"7-days"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Ttl::ThirtyDays => "30-days",
            Ttl::SevenDays => "7-days",
            Ttl::ThreeDays => "3-days",
            Ttl::OneDay => "1-day",
            Ttl::TwelveHours => "12-hours",
            Ttl::ThreeHours => "3-hours",
            Ttl::OneHour => "1-hour",
        }
    }

    /// The lifetime in seconds; the database adds it to its own clock.
    pub fn seconds(self) -> i64 {
        const HOUR: i64 = 3600;
        const DAY: i64 = 24 * HOUR;
        match self {
            Ttl::ThirtyDays => 30 * DAY,
            Ttl::SevenDays => 7 * DAY,
            Ttl::ThreeDays => 3 * DAY,
            Ttl::OneDay => DAY,
            Ttl::TwelveHours => 12 * HOUR,
            Ttl::ThreeHours => 3 * HOUR,
            Ttl::OneHour => HOUR,
        }
    }
}

impl FromStr for Ttl {
    type Err = TtlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ttl::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(TtlError)
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ttl_round_trips_through_its_wire_name() {
        for ttl in Ttl::ALL {
            assert_eq!(ttl.as_str().parse::<Ttl>(), Ok(ttl));
        }
    }

    #[test]
    fn unknown_and_differently_cased_names_are_rejected() {
        for bad in ["", "2-days", "7-Days", " 7-days", "forever"] {
            assert_eq!(bad.parse::<Ttl>(), Err(TtlError), "{bad:?}");
        }
    }

    #[test]
    fn seconds_match_the_names() {
        assert_eq!(Ttl::ThirtyDays.seconds(), 2_592_000);
        assert_eq!(Ttl::OneHour.seconds(), 3_600);
        assert_eq!(Ttl::TwelveHours.seconds(), 43_200);
    }
}
