//! Whole-request validation: every failing rule is reported, in the order ttl, user, message,
//! with the codes the Cruddur frontend already knows.

use crate::{Handle, Message, MessageError, Ttl};

/// One broken rule of a create or reply request. [`Rule::code`] is the wire code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    TtlBlank,
    UserHandleBlank,
    MessageBlank,
    MessageExceedMaxChars,
    MessageInvalidCharacters,
    DisplayNameBlank,
    DisplayNameExceedMaxChars,
    DisplayNameInvalidCharacters,
    BioExceedMaxChars,
    BioInvalidCharacters,
}

impl Rule {
    pub fn code(self) -> &'static str {
        match self {
            Rule::TtlBlank => "ttl_blank",
            Rule::UserHandleBlank => "user_handle_blank",
            Rule::MessageBlank => "message_blank",
            Rule::MessageExceedMaxChars => "message_exceed_max_chars",
            Rule::MessageInvalidCharacters => "message_invalid_characters",
            Rule::DisplayNameBlank => "display_name_blank",
            Rule::DisplayNameExceedMaxChars => "display_name_exceed_max_chars",
            Rule::DisplayNameInvalidCharacters => "display_name_invalid_characters",
            Rule::BioExceedMaxChars => "bio_exceed_max_chars",
            Rule::BioInvalidCharacters => "bio_invalid_characters",
        }
    }
}

impl From<MessageError> for Rule {
    fn from(e: MessageError) -> Self {
        match e {
            MessageError::Blank => Rule::MessageBlank,
            MessageError::TooLong { .. } => Rule::MessageExceedMaxChars,
            MessageError::ContainsNul => Rule::MessageInvalidCharacters,
        }
    }
}

/// A create request's fields as sent; `None`: missing (or not text).
#[derive(Debug, Clone, Copy, Default)]
pub struct CrudFields<'a> {
    pub ttl: Option<&'a str>,
    pub author: Option<&'a str>,
    pub message: Option<&'a str>,
}

/// A reply request's fields as sent; `None`: missing (or not text).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplyFields<'a> {
    pub author: Option<&'a str>,
    pub message: Option<&'a str>,
}

/// A crud that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCrud {
    pub author: Handle,
    pub message: Message,
    pub ttl: Ttl,
}

impl NewCrud {
    /// Checks all fields. Returns every broken rule on failure, in the order ttl, author,
    /// message.
    pub fn parse(fields: CrudFields<'_>) -> Result<Self, Vec<Rule>> {
        let CrudFields {
            ttl,
            author,
            message,
        } = fields;
        let ttl = ttl
            .and_then(|t| t.parse::<Ttl>().ok())
            .ok_or(Rule::TtlBlank);
        let author = parse_author(author);
        let message = Message::crud(message.unwrap_or_default()).map_err(Rule::from);
        match (ttl, author, message) {
            (Ok(ttl), Ok(author), Ok(message)) => Ok(Self {
                author,
                message,
                ttl,
            }),
            (ttl, author, message) => Err(collect([ttl.err(), author.err(), message.err()])),
        }
    }
}

/// A reply that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReply {
    pub author: Handle,
    pub message: Message,
}

impl NewReply {
    /// Checks both fields; returns every broken rule (author first).
    pub fn parse(fields: ReplyFields<'_>) -> Result<Self, Vec<Rule>> {
        let ReplyFields { author, message } = fields;
        let author = parse_author(author);
        let message = Message::reply(message.unwrap_or_default()).map_err(Rule::from);
        match (author, message) {
            (Ok(author), Ok(message)) => Ok(Self { author, message }),
            (author, message) => Err(collect([author.err(), message.err()])),
        }
    }
}

pub(crate) fn parse_author(user_handle: Option<&str>) -> Result<Handle, Rule> {
    user_handle
        .and_then(|h| Handle::parse(h).ok())
        .ok_or(Rule::UserHandleBlank)
}

fn collect<const N: usize>(rules: [Option<Rule>; N]) -> Vec<Rule> {
    rules.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_fields_missing_reports_three_rules_in_order() {
        assert_eq!(
            NewCrud::parse(CrudFields::default()),
            Err(vec![
                Rule::TtlBlank,
                Rule::UserHandleBlank,
                Rule::MessageBlank
            ])
        );
    }

    #[test]
    fn each_combination_of_bad_fields_reports_exactly_those_rules() {
        let long = "x".repeat(281);
        for mask in 0..8u8 {
            let ttl = if mask & 1 != 0 { "forever" } else { "7-days" };
            let user = if mask & 2 != 0 { " " } else { "bayko" };
            let message = if mask & 4 != 0 {
                long.as_str()
            } else {
                "hello"
            };
            let mut expected = Vec::new();
            if mask & 1 != 0 {
                expected.push(Rule::TtlBlank);
            }
            if mask & 2 != 0 {
                expected.push(Rule::UserHandleBlank);
            }
            if mask & 4 != 0 {
                expected.push(Rule::MessageExceedMaxChars);
            }
            let got = NewCrud::parse(CrudFields {
                ttl: Some(ttl),
                author: Some(user),
                message: Some(message),
            });
            if expected.is_empty() {
                let crud = got.unwrap();
                assert_eq!((crud.ttl, crud.author.as_str()), (Ttl::SevenDays, "bayko"));
            } else {
                assert_eq!(got, Err(expected), "mask {mask}");
            }
        }
    }

    #[test]
    fn codes_are_the_originals() {
        let codes: Vec<_> = [
            Rule::TtlBlank,
            Rule::UserHandleBlank,
            Rule::MessageBlank,
            Rule::MessageExceedMaxChars,
        ]
        .map(Rule::code)
        .into();
        assert_eq!(
            codes,
            [
                "ttl_blank",
                "user_handle_blank",
                "message_blank",
                "message_exceed_max_chars"
            ]
        );
    }

    #[test]
    fn reply_accepts_long_text_up_to_its_own_limit() {
        let text = "y".repeat(1024);
        assert_eq!(
            NewReply::parse(ReplyFields {
                author: Some("bayko"),
                message: Some(&text),
            })
            .unwrap()
            .message
            .as_str(),
            text
        );
        assert_eq!(
            NewReply::parse(ReplyFields {
                author: None,
                message: Some(""),
            }),
            Err(vec![Rule::UserHandleBlank, Rule::MessageBlank])
        );
    }
}
