//! The Cognito triggers: *pre sign-up* refuses a sign-up whose `preferred_username` is not a
//! valid handle or is taken (regardless of case), so that *post confirmation*, which records each
//! newly confirmed user in Postgres, cannot fail on the handle after Cognito has confirmed the
//! person. Both return the event unchanged, as Cognito requires, and answer within
//! [`TRIGGER_DEADLINE`] even when the database does not (Cognito gives a trigger 5 seconds).
//!
//! A failure is never reported as success: a missing attribute, a handle held by someone else
//! or any database error fails the invocation, so Cognito does not confirm a user without a row.
//! Logs carry the `sub`, never the email or the name.

use aws_lambda_events::event::cognito::{
    CognitoEventUserPoolsPostConfirmation, CognitoEventUserPoolsPostConfirmationTriggerSource,
};
use db::users::{CognitoInsert, NewCognitoUser};
use db::{DbError, Pool};
use domain::{DisplayName, Handle, HandleError};
use serde_json::Value;
use std::time::Duration;

pub use aws_lambda_events::event::cognito::CognitoEventUserPoolsPostConfirmation as PostConfirmationEvent;
pub use aws_lambda_events::event::cognito::CognitoEventUserPoolsPreSignup as PreSignUpEvent;

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
    #[error("name is not a usable display name ({rule}): {0}", rule = domain::DISPLAY_NAME_RULE)]
    InvalidName(#[source] domain::DisplayNameError),
    #[error("the handle `{handle}` is taken: choose another one")]
    HandleTaken { handle: String },
    #[error("could not reach the user database")]
    Database(#[source] DbError),
    #[error("the user database did not answer within {} s", TRIGGER_DEADLINE.as_secs())]
    Deadline,
}

impl ConfirmError {
    /// A stable name for the failure, reported to Lambda as the error type.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "MalformedEvent",
            Self::NoTriggerSource => "NoTriggerSource",
            Self::MissingAttribute(_) => "MissingAttribute",
            Self::InvalidHandle(_) => "InvalidHandle",
            Self::InvalidName(_) => "InvalidName",
            Self::HandleTaken { .. } => "HandleTaken",
            Self::Database(_) => "DatabaseError",
            Self::Deadline => "DatabaseTimeout",
        }
    }

    /// The message with every cause ("could not record the user: database unavailable: …").
    pub fn full_message(&self) -> String {
        domain::error_chain(self)
    }
}

/// What Cognito shows the person signing up when a failure is not theirs to fix.
pub const GENERIC_FAILURE: &str =
    "Sign-up could not be completed right now; please try again in a moment";

impl ConfirmError {
    /// Whether the person signing up caused it and can fix it (another handle, a missing
    /// attribute): then the message is theirs to read.
    fn is_the_users(&self) -> bool {
        matches!(
            self,
            Self::InvalidHandle(_)
                | Self::InvalidName(_)
                | Self::HandleTaken { .. }
                | Self::MissingAttribute(_)
        )
    }

    /// The report to Lambda, which Cognito shows the person signing up: the reason when it is
    /// theirs to fix, else [`GENERIC_FAILURE`] and the request id, with the details (server
    /// messages, addresses, role names) logged under that id instead.
    pub fn diagnostic(&self, request_id: &str) -> lambda_runtime::Diagnostic {
        let error_message = if self.is_the_users() {
            self.full_message()
        } else {
            tracing::error!(
                request_id,
                error_type = self.kind(),
                error = %self.full_message(),
                "trigger failed"
            );
            format!("{GENERIC_FAILURE} (request {request_id}).")
        };
        lambda_runtime::Diagnostic {
            error_type: self.kind().to_owned(),
            error_message,
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
    // Pre sign-up refused a name that breaks the rule; one that reaches here anyway (an
    // administrator's user, a changed attribute) cannot be sent back now that the person is
    // confirmed: the handle stands in, and the person can rename themselves.
    let (display_name, broken) = DisplayName::parse_or_handle(display_name, &handle);
    if let Some(rule) = broken {
        tracing::warn!(sub, reason = %rule, "the name breaks the display-name rule; the handle stands in");
    }
    let user = NewCognitoUser {
        cognito_user_id: sub,
        email,
        display_name: display_name.as_str(),
        handle: handle.as_str(),
    };
    match db::users::insert_from_cognito(pool, &user).await {
        Ok(CognitoInsert::Inserted(uuid)) => {
            tracing::info!(sub, user_uuid = %uuid, "confirmed user recorded");
        }
        Ok(CognitoInsert::AlreadyPresent) => {
            tracing::info!(sub, "confirmed user already recorded; nothing to do");
        }
        Ok(CognitoInsert::HandleTaken) => {
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

/// Every trigger answers within this (Cognito fails a trigger after 5 s); past it the
/// invocation fails instead of hanging on a database that does not answer.
pub const TRIGGER_DEADLINE: Duration = Duration::from_secs(4);

/// The function's pool: one invocation at a time per container, so one connection; an
/// invocation whose database cannot be reached or answer within 3 s fails (the trigger's own
/// deadline, 4 s, bounds both together, inside Cognito's 5 s).
pub fn pool_settings() -> db::PoolSettings {
    db::PoolSettings {
        max_size: 1,
        acquire_timeout: Duration::from_millis(3_000),
        statement_timeout: Duration::from_millis(3_000),
        ..db::PoolSettings::default()
    }
}

/// The Lambda's entry point on raw JSON: dispatches on `triggerSource` (pre sign-up or post
/// confirmation), and returns the input byte-for-byte equivalent (fields the typed events do not
/// model are kept too). Bounded by [`TRIGGER_DEADLINE`].
pub async fn handle_json(pool: &Pool, input: Value) -> Result<Value, ConfirmError> {
    tokio::time::timeout(TRIGGER_DEADLINE, dispatch(pool, &input))
        .await
        .map_err(|_| {
            tracing::error!("the user database did not answer within the trigger's deadline");
            ConfirmError::Deadline
        })??;
    Ok(input)
}

async fn dispatch(pool: &Pool, input: &Value) -> Result<(), ConfirmError> {
    let source = input.get("triggerSource").and_then(Value::as_str);
    if source.is_some_and(|s| s.starts_with("PreSignUp_")) {
        let event: PreSignUpEvent = serde_json::from_value(input.clone()).map_err(malformed)?;
        return pre_sign_up(pool, &event).await;
    }
    let event: PostConfirmationEvent = serde_json::from_value(input.clone()).map_err(malformed)?;
    handle(pool, event).await.map(drop)
}

/// Pre sign-up (`PreSignUp_SignUp`, `PreSignUp_AdminCreateUser`): refuses a `preferred_username`
/// that is not a valid handle or is held already, regardless of case, and a `name` that breaks
/// the display-name rule; the error message is what
/// Cognito shows the person. Other pre sign-up sources (external providers) are let through.
pub async fn pre_sign_up(pool: &Pool, event: &PreSignUpEvent) -> Result<(), ConfirmError> {
    use aws_lambda_events::event::cognito::CognitoEventUserPoolsPreSignupTriggerSource as Source;
    match event.cognito_event_user_pools_header.trigger_source {
        Some(Source::SignUp | Source::AdminCreateUser) => {}
        Some(_) => return Ok(()),
        None => return Err(ConfirmError::NoTriggerSource),
    }
    let raw = event
        .request
        .user_attributes
        .get("preferred_username")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .ok_or(ConfirmError::MissingAttribute("preferred_username"))?;
    let handle = Handle::parse(raw).map_err(|e| {
        tracing::info!(reason = %e, "sign-up refused: unusable handle");
        ConfirmError::InvalidHandle(e)
    })?;
    // The name is checked here, while the person can still choose another; an absent one is
    // post confirmation's to report.
    if let Some(name) = event.request.user_attributes.get("name") {
        DisplayName::parse(name).map_err(|e| {
            tracing::info!(reason = %e, "sign-up refused: unusable name");
            ConfirmError::InvalidName(e)
        })?;
    }
    let taken = db::users::handle_taken(pool, handle.as_str())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "pre sign-up: cannot check the handle");
            ConfirmError::Database(e)
        })?;
    if taken {
        tracing::info!("sign-up refused: handle taken");
        return Err(ConfirmError::HandleTaken {
            handle: handle.as_str().to_owned(),
        });
    }
    tracing::info!("sign-up accepted: handle free");
    Ok(())
}

/// Why an event did not decode, without quoting any of its values (serde's messages can quote
/// the value they could not read: a name, an email).
fn malformed(e: serde_json::Error) -> ConfirmError {
    let category = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "a field is missing or has the wrong type",
        serde_json::error::Category::Eof => "cut short",
    };
    ConfirmError::Malformed(category.to_owned())
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
