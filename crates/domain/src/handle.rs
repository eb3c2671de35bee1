//! A user's public name (`andrewbrown`, shown as `@andrewbrown`).

use std::fmt;

/// Longest handle accepted (Mastodon's limit: handles appear in URLs and in every crud).
pub const MAX_HANDLE_CHARS: usize = 30;

/// The handle alphabet as a regular expression (its length is [`MAX_HANDLE_CHARS`]). The text
/// means the same in PostgreSQL (the `users_handle_format` CHECK of migration V3), ECMA-262 (the
/// OpenAPI `pattern`) and Rust's `regex`; tests on each side prove it matches [`Handle::parse`].
pub const HANDLE_PATTERN: &str = "^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$";

/// The handle alphabet in words, for messages people read.
pub const HANDLE_RULE: &str = "letters a-z, digits and underscores, with dots or dashes inside";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    #[error("the handle is empty")]
    Blank,
    #[error("the handle is longer than {MAX_HANDLE_CHARS} characters")]
    TooLong,
    #[error("a handle may hold only {HANDLE_RULE}")]
    InvalidCharacters,
}

/// A handle people can trust: ASCII letters, digits and `_`, with `.` or `-` allowed inside (not
/// first or last), at most [`MAX_HANDLE_CHARS`] characters — the same rule as Mastodon's. No
/// look-alike letters from other scripts and no invisible characters, so two handles that look
/// the same are the same. Case is kept as written, but handles are unique regardless of case
/// (a unique index on `lower(handle)`). A leading `@` is accepted and dropped, because people
/// type handles the way they are displayed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Handle(String);

impl Handle {
    pub fn parse(raw: &str) -> Result<Self, HandleError> {
        let trimmed = raw.trim();
        let bare = trimmed.strip_prefix('@').unwrap_or(trimmed);
        if bare.is_empty() {
            return Err(HandleError::Blank);
        }
        if bare.chars().count() > MAX_HANDLE_CHARS {
            return Err(HandleError::TooLong);
        }
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let inner = |c: char| word(c) || c == '.' || c == '-';
        let first_and_last = bare.starts_with(word) && bare.ends_with(word);
        if !first_and_last || !bare.chars().all(inner) {
            return Err(HandleError::InvalidCharacters);
        }
        Ok(Self(bare.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Strings that probe the handle rule's edges (empty, the longest, one too long, and every
/// three-character string over an alphabet of allowed, inner-only and look-alike characters):
/// shared by this crate's test of [`HANDLE_PATTERN`] and the data layer's test of its CHECK.
#[doc(hidden)]
pub fn handle_candidates() -> Vec<String> {
    let alphabet = [
        "a", "Z", "0", "_", ".", "-", " ", "@", "é", "а", "\u{200b}", "\n",
    ];
    let mut candidates = vec![
        String::new(),
        "a".repeat(MAX_HANDLE_CHARS),
        "a".repeat(MAX_HANDLE_CHARS + 1),
    ];
    for a in alphabet {
        for b in alphabet {
            for c in alphabet {
                candidates.push(format!("{a}{b}{c}"));
            }
        }
    }
    candidates
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Handle {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_accepts_exactly_what_parse_keeps_unchanged() {
        let pattern = regex::Regex::new(HANDLE_PATTERN).unwrap();
        let candidates = handle_candidates();
        assert!(candidates.len() > 1_700);
        for candidate in candidates {
            let by_parse = Handle::parse(&candidate).is_ok_and(|h| h.as_str() == candidate);
            let by_pattern =
                pattern.is_match(&candidate) && candidate.chars().count() <= MAX_HANDLE_CHARS;
            assert_eq!(by_parse, by_pattern, "{candidate:?}");
        }
    }

    #[test]
    fn parse_drops_one_leading_at_and_surrounding_space() {
        assert_eq!(
            Handle::parse("  @andrewbrown ").unwrap().as_str(),
            "andrewbrown"
        );
    }

    #[test]
    fn parse_rejects_blank_and_bare_at() {
        assert_eq!(Handle::parse("   "), Err(HandleError::Blank));
        assert_eq!(Handle::parse("@"), Err(HandleError::Blank));
    }

    #[test]
    fn parse_rejects_inner_whitespace_and_nul() {
        assert_eq!(
            Handle::parse("andrew brown"),
            Err(HandleError::InvalidCharacters)
        );
        assert_eq!(Handle::parse("a\0b"), Err(HandleError::InvalidCharacters));
    }

    #[test]
    fn parse_keeps_letters_digits_underscores_and_inner_dots_or_dashes() {
        for ok in [
            "andrewbrown",
            "AndrewBrown",
            "andrew_brown",
            "a.b-c",
            "_x_",
            "a",
            "x9",
        ] {
            assert_eq!(Handle::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "andrew\u{200b}brown", // zero-width space: looks like andrewbrown
            "аndrewbrown",         // Cyrillic а
            "andrew.",
            ".andrew",
            "-andrew",
            "andrew-",
            "andrew/brown",
            "ünïcode",
            "a@b",
        ] {
            assert_eq!(
                Handle::parse(bad),
                Err(HandleError::InvalidCharacters),
                "{bad}"
            );
        }
    }

    #[test]
    fn parse_limits_the_length() {
        let at_limit = "a".repeat(MAX_HANDLE_CHARS);
        assert!(Handle::parse(&at_limit).is_ok());
        assert_eq!(
            Handle::parse(&format!("{at_limit}a")),
            Err(HandleError::TooLong)
        );
    }
}
