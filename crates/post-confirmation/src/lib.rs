//! The Cognito post-confirmation trigger: records each newly confirmed user in
//! Postgres and returns the event unchanged, as Cognito requires.
//!
//! A failure is never reported as success: a missing attribute, a handle held by someone else
//! or any database error fails the invocation, so Cognito does not confirm a user without a row.
//! Logs carry the `sub`, never the email or the name.

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsPostConfirmation, CognitoEventUserPoolsPostConfirmationTriggerSource,
};
use db::users::{CognitoInsert, NewCognitoUser};
use db::{DbError, Pool};
use domain::{Handle, HandleError};
use serde_json::Value;

pub use aws_lambda_events::event::cognito::CognitoEventUserPoolsPostConfirmation as PostConfirmationEvent;

/// The user attributes the trigger needs, as Cognito names them.
pub const REQUIRED_ATTRIBUTES: [&str; 4] = ["sub", "email", "name", "preferred_username"];

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("the event is not a Cognito PostConfirmation event: {0}")]
    Malformed(String),
    #[error("the event has no triggerSource")]
    NoTriggerSource,
    #[error("user attribute `{0}` is missing or empty")]
    MissingAttribute(&'static str),
    #[error("preferred_username is not a usable handle: {0}")]
    InvalidHandle(#[source] HandleError),
    #[error("handle `{handle}` already belongs to another user")]
    HandleTaken { handle: String },
    #[error("could not record the user")]
    Database(#[source] DbError),
}

impl ConfirmError {
    /// A stable name for the failure, reported to Lambda as the error type.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "MalformedEvent",
            Self::NoTriggerSource => "NoTriggerSource",
            Self::MissingAttribute(_) => "MissingAttribute",
            Self::InvalidHandle(_) => "InvalidHandle",
            Self::HandleTaken { .. } => "HandleTaken",
            Self::Database(_) => "DatabaseError",
        }
    }

    /// The message with every cause ("could not record the user: database unavailable: …").
    pub fn full_message(&self) -> String {
        domain::error_chain(self)
    }
}

impl From<ConfirmError> for lambda_runtime::Diagnostic {
    fn from(e: ConfirmError) -> Self {
        Self {
            error_type: e.kind().to_owned(),
            error_message: e.full_message(),
        }
    }
}

/// Handles one event: for `PostConfirmation_ConfirmSignUp` inserts the user (idempotently);
/// other trigger sources write nothing. Returns the event unchanged.
pub async fn handle(
    pool: &Pool,
    event: PostConfirmationEvent,
) -> Result<PostConfirmationEvent, ConfirmError> {
    let header = &event.cognito_event_user_pools_header;
    match header.trigger_source {
        Some(CognitoEventUserPoolsPostConfirmationTriggerSource::ConfirmSignUp) => {}
        Some(CognitoEventUserPoolsPostConfirmationTriggerSource::ConfirmForgotPassword) => {
            tracing::info!(
                sub = attribute(&event, "sub").unwrap_or("-"),
                "forgot-password confirmation: nothing to record"
            );
            return Ok(event);
        }
        None => return Err(ConfirmError::NoTriggerSource),
    }
    let sub = attribute(&event, "sub")?;
    let email = attribute(&event, "email")?;
    let display_name = attribute(&event, "name")?;
    let handle = Handle::parse(attribute(&event, "preferred_username")?)
        .map_err(ConfirmError::InvalidHandle)?;
    let user = NewCognitoUser {
        cognito_user_id: sub,
        email,
        display_name,
        handle: handle.as_str(),
    };
    match db::users::insert_from_cognito(pool, &user).await {
        Ok(CognitoInsert::Inserted(uuid)) => {
            tracing::info!(sub, user_uuid = %uuid, "confirmed user recorded");
        }
        Ok(CognitoInsert::AlreadyPresent) => {
            tracing::info!(sub, "confirmed user already recorded; nothing to do");
        }
        Err(DbError::Conflict { constraint }) if constraint == "users_handle_key" => {
            tracing::warn!(sub, "handle already belongs to another user");
            return Err(ConfirmError::HandleTaken {
                handle: user.handle.to_owned(),
            });
        }
        Err(e) => {
            tracing::error!(sub, error = %e, "could not record the confirmed user");
            return Err(ConfirmError::Database(e));
        }
    }
    Ok(event)
}

/// The Lambda's entry point on raw JSON: decodes the event, runs [`handle`], and returns the
/// input byte-for-byte equivalent (fields the typed event does not model are kept too).
pub async fn handle_json(pool: &Pool, input: Value) -> Result<Value, ConfirmError> {
    let event: PostConfirmationEvent = serde_json::from_value(input.clone())
        .map_err(|e| ConfirmError::Malformed(e.to_string()))?;
    handle(pool, event).await?;
    Ok(input)
}

fn attribute<'a>(
    event: &'a CognitoEventUserPoolsPostConfirmation,
    name: &'static str,
) -> Result<&'a str, ConfirmError> {
    event
        .request
        .user_attributes
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or(ConfirmError::MissingAttribute(name))
}
