//! The name people see beside a handle. One rule for every writer (the profile update, the
//! sign-up triggers, `cognito sync`): 1–64 characters once trimmed, no control characters and
//! no bidirectional formatting characters, which would let a name reorder the text around it on
//! every page and card that shows it (a name ending in U+202E turns the handle after it around).

use std::fmt;

use crate::Handle;

/// Longest display name (characters).
pub const MAX_DISPLAY_NAME_CHARS: usize = 64;

/// The rule in words, for documents and messages.
pub const DISPLAY_NAME_RULE: &str =
    "1–64 characters, without control or bidirectional formatting characters";

/// A display name that passed the rule, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    #[error("the display name is blank")]
    Blank,
    #[error("the display name is longer than {MAX_DISPLAY_NAME_CHARS} characters")]
    TooLong,
    #[error("the display name holds control or bidirectional formatting characters")]
    InvalidCharacters,
}

/// Bidirectional formatting characters (Unicode's Bidi_Control property): marks, embeddings,
/// overrides and isolates.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, DisplayNameError> {
        let name = raw.trim();
        if name.is_empty() {
            Err(DisplayNameError::Blank)
        } else if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
            Err(DisplayNameError::TooLong)
        } else if name.chars().any(|c| c.is_control() || is_bidi_control(c)) {
            Err(DisplayNameError::InvalidCharacters)
        } else {
            Ok(Self(name.to_owned()))
        }
    }

    /// For writers that cannot ask the person again (the post-confirmation trigger, `cognito
    /// sync`): the name when it keeps the rule, else the handle (which always does) and why.
    pub fn parse_or_handle(raw: &str, handle: &Handle) -> (Self, Option<DisplayNameError>) {
        match Self::parse(raw) {
            Ok(name) => (name, None),
            Err(e) => (Self(handle.as_str().to_owned()), Some(e)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_within_the_rule_are_kept_trimmed() {
        assert_eq!(
            DisplayName::parse("  Andrew B. ").unwrap().as_str(),
            "Andrew B."
        );
        let longest = "é".repeat(MAX_DISPLAY_NAME_CHARS);
        assert_eq!(DisplayName::parse(&longest).unwrap().as_str(), longest);
        // Right-to-left script is a name like any other; only the invisible controls are not.
        assert!(DisplayName::parse("مرحبا Ada").is_ok());
    }

    #[test]
    fn a_writer_that_cannot_ask_again_falls_back_to_the_handle() {
        let handle = Handle::parse("ada").unwrap();
        let (kept, why) = DisplayName::parse_or_handle("Ada L.", &handle);
        assert_eq!((kept.as_str(), why), ("Ada L.", None));
        let (fallback, why) = DisplayName::parse_or_handle("Ada\u{202E}", &handle);
        assert_eq!(
            (fallback.as_str(), why),
            ("ada", Some(DisplayNameError::InvalidCharacters))
        );
    }

    #[test]
    fn blank_long_control_and_bidi_names_are_refused() {
        assert_eq!(DisplayName::parse(" \t "), Err(DisplayNameError::Blank));
        assert_eq!(
            DisplayName::parse(&"x".repeat(MAX_DISPLAY_NAME_CHARS + 1)),
            Err(DisplayNameError::TooLong)
        );
        for bad in [
            "Ada\u{0}",
            "Ada\nLovelace",
            "Ada\u{202E}",
            "\u{2066}Ada",
            "Ada\u{200F}B",
            "Ada\u{061C}",
            "Ada\u{202A}x",
            "Ada\u{2069}",
        ] {
            assert_eq!(
                DisplayName::parse(bad),
                Err(DisplayNameError::InvalidCharacters),
                "{bad:?}"
            );
        }
    }
}
