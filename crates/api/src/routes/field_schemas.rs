//! The request fields' OpenAPI schemas, built from the domain's rules. utoipa's `pattern` and
//! `max_length` attributes take literals only, so the request types name these functions with
//! `schema_with`, and the document states exactly what `domain` enforces.

use domain::{
    Ttl, DISPLAY_NAME_RULE, HANDLE_PATTERN, IDEMPOTENCY_KEY_PATTERN, IDEMPOTENCY_KEY_RULE,
    MAX_BIO_CHARS, MAX_CRUD_CHARS, MAX_DISPLAY_NAME_CHARS, MAX_HANDLE_CHARS,
    MAX_IDEMPOTENCY_KEY_CHARS, MAX_REPLY_CHARS,
};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

/// A text field that may be missing or null (the API reports a rule, never a decode error).
fn text(description: impl Into<String>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some(description))
}

fn handle(description: &str) -> ObjectBuilder {
    text(description)
        .pattern(Some(HANDLE_PATTERN))
        .max_length(Some(MAX_HANDLE_CHARS))
}

fn message(max: usize) -> ObjectBuilder {
    text(format!("1–{max} characters."))
        .min_length(Some(1))
        .max_length(Some(max))
}

/// Whose write it is, when a token may also say so.
const TOKEN_USER: &str = "required in dev mode; in cognito mode optional, and when given it \
                          must be the token's user (else 403).";

pub(crate) fn crud_message() -> ObjectBuilder {
    message(MAX_CRUD_CHARS)
}

pub(crate) fn reply_message() -> ObjectBuilder {
    message(MAX_REPLY_CHARS)
}

pub(crate) fn ttl() -> ObjectBuilder {
    let names = Ttl::names();
    text(format!("One of {}.", names.join(", "))).pattern(Some(format!("^({})$", names.join("|"))))
}

pub(crate) fn crud_author() -> ObjectBuilder {
    handle(&format!("The author's handle: {TOKEN_USER}"))
}

pub(crate) fn reply_author() -> ObjectBuilder {
    handle("The author's handle (dev mode).")
}

pub(crate) fn profile_owner() -> ObjectBuilder {
    handle(&format!("Whose profile: {TOKEN_USER}"))
}

pub(crate) fn display_name() -> ObjectBuilder {
    // The rule's own words; the lengths below are the part a schema can state.
    text(format!("{DISPLAY_NAME_RULE}."))
        .min_length(Some(1))
        .max_length(Some(MAX_DISPLAY_NAME_CHARS))
}

pub(crate) fn idempotency_key() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::String))
        .description(Some(IDEMPOTENCY_KEY_RULE))
        .pattern(Some(IDEMPOTENCY_KEY_PATTERN))
        .min_length(Some(1))
        .max_length(Some(MAX_IDEMPOTENCY_KEY_CHARS))
}

pub(crate) fn bio() -> ObjectBuilder {
    text(format!(
        "Up to {MAX_BIO_CHARS} characters; absent, null or blank clears it."
    ))
    .max_length(Some(MAX_BIO_CHARS))
}
