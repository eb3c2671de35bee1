//! The text of a crud or a reply.

use std::fmt;

/// A crud holds at most this many characters (Unicode scalar values), as in the original.
pub const MAX_CRUD_CHARS: usize = 280;
/// A reply holds at most this many characters.
pub const MAX_REPLY_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message is empty")]
    Blank,
    #[error("the message is longer than {max} characters")]
    TooLong { max: usize },
    /// PostgreSQL `text` cannot hold U+0000, so such a message could never be stored.
    #[error("the message contains a NUL character")]
    ContainsNul,
}

/// Non-blank text within a length limit, stored exactly as written (not trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message(String);

impl Message {
    /// A crud's message: at most [`MAX_CRUD_CHARS`] characters.
    pub fn crud(raw: &str) -> Result<Self, MessageError> {
        Self::parse(raw, MAX_CRUD_CHARS)
    }

    /// A reply's message: at most [`MAX_REPLY_CHARS`] characters.
    pub fn reply(raw: &str) -> Result<Self, MessageError> {
        Self::parse(raw, MAX_REPLY_CHARS)
    }

    fn parse(raw: &str, max: usize) -> Result<Self, MessageError> {
        if raw.trim().is_empty() {
            return Err(MessageError::Blank);
        }
        if raw.chars().count() > max {
            return Err(MessageError::TooLong { max });
        }
        if raw.contains('\0') {
            return Err(MessageError::ContainsNul);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crud_allows_280_multibyte_characters_and_rejects_281() {
        let at_limit = "🦀".repeat(MAX_CRUD_CHARS);
        assert_eq!(at_limit.len(), 4 * MAX_CRUD_CHARS);
        assert_eq!(Message::crud(&at_limit).unwrap().as_str(), at_limit);
        let over = format!("{at_limit}a");
        assert_eq!(
            Message::crud(&over),
            Err(MessageError::TooLong {
                max: MAX_CRUD_CHARS
            })
        );
    }

    #[test]
    fn reply_allows_up_to_1024_characters() {
        assert!(Message::reply(&"x".repeat(MAX_REPLY_CHARS)).is_ok());
        assert_eq!(
            Message::reply(&"x".repeat(MAX_REPLY_CHARS + 1)),
            Err(MessageError::TooLong {
                max: MAX_REPLY_CHARS
            })
        );
    }

    #[test]
    fn whitespace_only_is_blank_but_inner_whitespace_is_kept() {
        assert_eq!(Message::crud(" \n\t "), Err(MessageError::Blank));
        assert_eq!(Message::crud("  hi  ").unwrap().as_str(), "  hi  ");
    }

    #[test]
    fn nul_is_rejected() {
        assert_eq!(Message::crud("a\0b"), Err(MessageError::ContainsNul));
    }
}
