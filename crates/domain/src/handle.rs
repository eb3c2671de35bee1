//! A user's public name (`andrewbrown`, shown as `@andrewbrown`).

use std::fmt;

/// Longest handle accepted; Cognito's `preferred_username` allows 128 characters.
pub const MAX_HANDLE_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    #[error("the handle is empty")]
    Blank,
    #[error("the handle is longer than {MAX_HANDLE_CHARS} characters")]
    TooLong,
    #[error("the handle contains whitespace or control characters")]
    InvalidCharacters,
}

/// A non-empty handle without whitespace or control characters. A leading `@` is accepted and
/// dropped, because people type handles the way they are displayed.
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
        if bare.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(HandleError::InvalidCharacters);
        }
        Ok(Self(bare.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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
    fn parse_counts_characters_not_bytes() {
        let at_limit = "é".repeat(MAX_HANDLE_CHARS);
        assert!(Handle::parse(&at_limit).is_ok());
        assert_eq!(
            Handle::parse(&format!("{at_limit}é")),
            Err(HandleError::TooLong)
        );
    }
}
