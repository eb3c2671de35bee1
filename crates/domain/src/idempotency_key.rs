//! The `Idempotency-Key` of a create or reply (the IETF httpapi draft; Stripe's convention):
//! a client's name for one intended write, sent again with every retry of it.

use std::fmt;

/// Longest key (characters), as Stripe allows.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// The rule as a regular expression: 1–255 characters from `!` to `~`. It means the same in
/// ECMA-262 (the OpenAPI `pattern`) and Rust's `regex` (a test proves it matches
/// [`IdempotencyKey::parse`]).
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";

/// The rule in words.
pub const IDEMPOTENCY_KEY_RULE: &str =
    "1–255 visible ASCII characters (a UUID is customary); the same key with the same request within 24 hours answers the first result again";

/// A key that keeps the rule: 1–255 visible ASCII characters (no spaces or controls), so it
/// can be logged, compared and stored byte for byte.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an Idempotency-Key must be {IDEMPOTENCY_KEY_RULE}")]
pub struct IdempotencyKeyError;

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, IdempotencyKeyError> {
        let fits = (1..=MAX_IDEMPOTENCY_KEY_CHARS).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if fits {
            Ok(Self(raw.to_owned()))
        } else {
            Err(IdempotencyKeyError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// A client's key is not a secret, but it is theirs: logs say that one was sent, not what it was.
impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_ascii_up_to_255_characters() {
        for ok in [
            "a",
            "8e5f3c1a-0b1d-4c2e-9f3a-5b6c7d8e9f00",
            &"k".repeat(255),
            "a.b_c~d!",
        ] {
            assert_eq!(IdempotencyKey::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", " ", "a b", "tab\there", "é", &"k".repeat(256), "nul\0"] {
            assert_eq!(
                IdempotencyKey::parse(bad),
                Err(IdempotencyKeyError),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_pattern_accepts_exactly_what_parse_accepts() {
        let pattern = regex::Regex::new(IDEMPOTENCY_KEY_PATTERN).unwrap();
        let long = "k".repeat(255);
        let too_long = "k".repeat(256);
        for text in [
            "a", "A-b_c.9", "!~", &long, &too_long, "", " ", "a b", "é", "\u{7f}", "x\n",
        ] {
            assert_eq!(
                pattern.is_match(text),
                IdempotencyKey::parse(text).is_ok(),
                "{text:?}"
            );
        }
    }
}
