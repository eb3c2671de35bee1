//! What the page says for each error code the API answers, and next to which field. The page
//! ships this table as JSON (see [`as_json`]) so its script shows the same sentences the server
//! would; a code missing here is shown as "Something went wrong (code)".

use serde::Serialize;

/// The form field a sentence is shown next to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Message,
    Ttl,
    Author,
    /// The form as a whole (nothing the writer typed is at fault).
    Form,
}

/// `{max}` in a sentence is the form's character limit (280 for a crud, 1,024 for a reply).
pub const SENTENCES: &[(&str, Field, &str)] = &[
    ("ttl_blank", Field::Ttl, "Pick how long your crud lives."),
    ("user_handle_blank", Field::Author, "Pick who is posting."),
    ("user_not_found", Field::Author, "That user does not exist."),
    ("message_blank", Field::Message, "Write something first."),
    (
        "message_exceed_max_chars",
        Field::Message,
        "That is too long: at most {max} characters.",
    ),
    (
        "message_invalid_characters",
        Field::Message,
        "Remove the NUL character: it cannot be stored.",
    ),
    (
        "not_found",
        Field::Form,
        "That crud is gone: it expired or was removed.",
    ),
    (
        "rate_limited",
        Field::Form,
        "Too many posts for now. Wait a moment, then try again.",
    ),
    (
        "overloaded",
        Field::Form,
        "The server is busy. Try again in a moment.",
    ),
    (
        "timeout",
        Field::Form,
        "The server took too long. Try again in a moment.",
    ),
    (
        "database_unavailable",
        Field::Form,
        "The database is not answering. Try again in a moment.",
    ),
    (
        "unauthorized",
        Field::Form,
        "Sign in through the Cruddur app to post.",
    ),
    ("forbidden", Field::Author, "You can only post as yourself."),
    (
        "session_ended",
        Field::Form,
        "Your session has ended. Sign in again to post.",
    ),
    (
        "cross_site_request",
        Field::Form,
        "This post did not come from this site's page, so it was refused.",
    ),
];

#[derive(Serialize)]
struct Entry {
    field: Field,
    text: &'static str,
}

/// The table as a JSON object `{code: {field, text}}`, safe inside a `<script>` data block
/// (`<` is escaped, so no `</script>` can appear).
pub fn as_json() -> String {
    let table: std::collections::BTreeMap<&str, Entry> = SENTENCES
        .iter()
        .map(|&(code, field, text)| (code, Entry { field, text }))
        .collect();
    serde_json::to_string(&table)
        .unwrap_or_else(|_| "{}".to_owned())
        .replace('<', "\\u003c")
}

/// The sentence for `code`, with `{max}` filled in.
pub fn sentence(code: &str, max: usize) -> String {
    SENTENCES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, _, text)| text.replace("{max}", &max.to_string()))
        .unwrap_or_else(|| format!("Something went wrong ({code})."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_validation_rule_of_a_crud_has_a_sentence() {
        for rule in [
            domain::Rule::TtlBlank,
            domain::Rule::UserHandleBlank,
            domain::Rule::MessageBlank,
            domain::Rule::MessageExceedMaxChars,
            domain::Rule::MessageInvalidCharacters,
        ] {
            assert!(
                SENTENCES.iter().any(|(code, _, _)| *code == rule.code()),
                "{}",
                rule.code()
            );
        }
        assert_eq!(sentence("ttl_blank", 280), "Pick how long your crud lives.");
        assert_eq!(
            sentence("message_exceed_max_chars", 280),
            "That is too long: at most 280 characters."
        );
        assert_eq!(sentence("teapot", 280), "Something went wrong (teapot).");
    }

    #[test]
    fn the_table_cannot_close_its_script_block() {
        assert!(!as_json().contains('<'));
        assert!(as_json().contains("\"ttl_blank\":{\"field\":\"ttl\""));
    }
}
