//! A profile update: the display name people see and a short bio.

use crate::display_name::{DisplayName, DisplayNameError};
use crate::new_crud::parse_author;
use crate::{Handle, Rule};

/// Longest bio accepted (characters).
pub const MAX_BIO_CHARS: usize = 160;

/// A display name and bio that passed every rule. A blank bio clears it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdate {
    pub display_name: String,
    pub bio: Option<String>,
}

/// A profile update of one user: whose, and what, with every broken rule at once (the handle
/// first, as for cruds and replies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileEdit {
    pub author: Handle,
    pub update: ProfileUpdate,
}

/// A profile update's fields as sent; `None`: missing (or not text).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProfileFields<'a> {
    pub author: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub bio: Option<&'a str>,
}

impl ProfileEdit {
    /// Checks every field; returns every broken rule (author first).
    pub fn parse(fields: ProfileFields<'_>) -> Result<Self, Vec<Rule>> {
        let ProfileFields {
            author,
            display_name,
            bio,
        } = fields;
        match (
            parse_author(author),
            ProfileUpdate::parse(display_name, bio),
        ) {
            (Ok(author), Ok(update)) => Ok(Self { author, update }),
            (author, update) => {
                let mut rules: Vec<Rule> = author.err().into_iter().collect();
                rules.extend(update.err().unwrap_or_default());
                Err(rules)
            }
        }
    }
}

impl ProfileUpdate {
    /// Checks both fields; returns every broken rule (display name first).
    pub fn parse(display_name: Option<&str>, bio: Option<&str>) -> Result<Self, Vec<Rule>> {
        let mut broken = Vec::new();
        let name = DisplayName::parse(display_name.unwrap_or_default());
        if let Err(e) = &name {
            broken.push(match e {
                DisplayNameError::Blank => Rule::DisplayNameBlank,
                DisplayNameError::TooLong => Rule::DisplayNameExceedMaxChars,
                DisplayNameError::InvalidCharacters => Rule::DisplayNameInvalidCharacters,
            });
        }
        let bio = bio.map(str::trim).filter(|b| !b.is_empty());
        if let Some(bio) = bio {
            if bio.chars().count() > MAX_BIO_CHARS {
                broken.push(Rule::BioExceedMaxChars);
            } else if bio.contains('\0') {
                broken.push(Rule::BioInvalidCharacters);
            }
        }
        match name {
            Ok(name) if broken.is_empty() => Ok(Self {
                display_name: name.into_string(),
                bio: bio.map(str::to_owned),
            }),
            _ => Err(broken),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MAX_DISPLAY_NAME_CHARS;

    #[test]
    fn an_edit_names_its_user_and_reports_the_handle_rule_first() {
        let edit = ProfileEdit::parse(ProfileFields {
            author: Some("bayko"),
            display_name: Some("Andrew B."),
            bio: None,
        })
        .unwrap();
        assert_eq!(edit.author.as_str(), "bayko");
        assert_eq!(edit.update.display_name, "Andrew B.");
        assert_eq!(
            ProfileEdit::parse(ProfileFields {
                author: Some("not a handle"),
                display_name: Some(""),
                bio: None,
            }),
            Err(vec![Rule::UserHandleBlank, Rule::DisplayNameBlank])
        );
    }

    #[test]
    fn a_name_and_a_bio_within_limits_are_kept_trimmed() {
        let update = ProfileUpdate::parse(Some("  Andrew  "), Some(" Cloud ")).unwrap();
        assert_eq!(update.display_name, "Andrew");
        assert_eq!(update.bio.as_deref(), Some("Cloud"));
        assert_eq!(
            ProfileUpdate::parse(Some("A"), Some("  ")).unwrap().bio,
            None
        );
    }

    #[test]
    fn every_broken_rule_is_reported() {
        let long_bio = "b".repeat(MAX_BIO_CHARS + 1);
        assert_eq!(
            ProfileUpdate::parse(None, Some(&long_bio)),
            Err(vec![Rule::DisplayNameBlank, Rule::BioExceedMaxChars])
        );
        let long_name = "é".repeat(MAX_DISPLAY_NAME_CHARS + 1);
        assert_eq!(
            ProfileUpdate::parse(Some(&long_name), None),
            Err(vec![Rule::DisplayNameExceedMaxChars])
        );
        assert_eq!(
            ProfileUpdate::parse(Some("a\u{7}b"), Some("x\0")),
            Err(vec![
                Rule::DisplayNameInvalidCharacters,
                Rule::BioInvalidCharacters
            ])
        );
        let at_limit = "é".repeat(MAX_DISPLAY_NAME_CHARS);
        assert!(ProfileUpdate::parse(Some(&at_limit), Some(&"b".repeat(MAX_BIO_CHARS))).is_ok());
    }
}
