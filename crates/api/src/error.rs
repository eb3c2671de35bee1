//! Every error the API returns: a status and a JSON array of codes (the original's contract,
//! which the Cruddur frontend displays). Bodies say nothing more; a cause travels in the
//! response's extensions to the one log line of the request.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use db::DbError;
use domain::Rule;

use crate::rate_limit::allowance::{Allowance, Refused};
use crate::rate_limit::headers;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(Vec<Rule>),
    #[error("unknown author")]
    UserNotFound,
    /// The `Idempotency-Key` was used within 24 hours for another request.
    #[error("idempotency key reused for another request")]
    IdempotencyKeyReused,
    /// A write without a valid access token (cognito mode).
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// The token's user may not act as the user the request names.
    #[error("forbidden")]
    Forbidden,
    /// A write authenticated by the page's session cookie that did not come from the page.
    #[error("cross-site request refused")]
    CrossSite,
    /// A page write whose session cookie names no live session (signed out, idle or expired,
    /// or its refresh token refused).
    #[error("the session has ended")]
    SessionEnded,
    /// Dev mode on loopback answers only loopback `Host` names (see `host_check`).
    #[error("host not allowed")]
    HostNotAllowed,
    /// The token's user has a handle from before the handle rule; it must be renamed first.
    #[error("the user's handle breaks the handle rule")]
    LegacyHandle,
    /// The user pool's keys cannot be fetched, so no token can be judged now.
    #[error("authentication unavailable: {0}")]
    AuthUnavailable(String),
    /// The route exists; the resource it names does not.
    #[error("not found")]
    NotFound,
    /// No route has this path: a client's typo or an old client, not a missing resource.
    #[error("no such route")]
    NoRoute,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict")]
    Conflict(#[source] DbError),
    #[error("value rejected by the database")]
    InvalidValue(#[source] DbError),
    #[error("database unavailable")]
    Unavailable(#[source] DbError),
    /// The client or the author has used up their write allowance.
    #[error("rate limited")]
    RateLimited(Allowance),
    /// More requests in flight than the server takes (load shedding).
    #[error("overloaded")]
    Overloaded,
    /// The request ran past the request timeout.
    #[error("request timed out")]
    Timeout,
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_)
            | Self::UserNotFound
            | Self::IdempotencyKeyReused
            | Self::InvalidValue(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::Unauthorized(_) | Self::SessionEnded => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::LegacyHandle | Self::HostNotAllowed | Self::CrossSite => {
                StatusCode::FORBIDDEN
            }
            Self::AuthUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) | Self::Overloaded | Self::Timeout => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn codes(&self) -> Vec<&'static str> {
        match self {
            Self::Validation(rules) => rules.iter().map(|r| r.code()).collect(),
            Self::UserNotFound => vec!["user_not_found"],
            Self::IdempotencyKeyReused => vec!["idempotency_key_reused"],
            Self::NotFound => vec!["not_found"],
            Self::NoRoute => vec!["route_not_found"],
            Self::Unauthorized(_) => vec!["unauthorized"],
            Self::Forbidden => vec!["forbidden"],
            Self::CrossSite => vec!["cross_site_request"],
            Self::SessionEnded => vec!["session_ended"],
            Self::HostNotAllowed => vec!["host_not_allowed"],
            Self::LegacyHandle => vec!["forbidden", "user_handle_invalid"],
            Self::AuthUnavailable(_) => vec!["auth_unavailable"],
            Self::BadRequest(code) => vec![code],
            Self::UnsupportedMediaType => vec!["unsupported_media_type"],
            Self::PayloadTooLarge => vec!["payload_too_large"],
            Self::MethodNotAllowed => vec!["method_not_allowed"],
            Self::Conflict(_) => vec!["conflict"],
            Self::InvalidValue(_) => vec!["invalid_value"],
            Self::Unavailable(_) => vec!["database_unavailable"],
            Self::Overloaded => vec!["overloaded"],
            Self::RateLimited(_) => vec!["rate_limited"],
            Self::Timeout => vec!["timeout"],
            Self::Internal(_) => vec!["internal_error"],
        }
    }
}

impl From<Refused> for ApiError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Exhausted(allowance) => Self::RateLimited(allowance),
            Refused::Full => Self::Overloaded,
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            // A credentials provider with nothing to give (the secret store or the AWS
            // credentials chain not answering) is a dependency down, like the database.
            DbError::Unavailable { .. } | DbError::Timeout | DbError::Credentials(_) => {
                Self::Unavailable(e)
            }
            DbError::Conflict { .. } => Self::Conflict(e),
            DbError::InvalidValue { .. } | DbError::Violation { .. } => Self::InvalidValue(e),
            other => Self::Internal(Box::new(other)),
        }
    }
}

/// How loudly a request's failure is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The client's input, refused with a clear answer.
    Client,
    /// Something we depend on is down; the request may succeed later.
    Degraded,
    /// A defect or an unexpected state: worth a look.
    Defect,
}

/// The cause of an error response, carried in the response's extensions to the request log
/// line (`crate::observe`), which writes it once, in the request's span. Never in the body.
#[derive(Debug, Clone)]
pub struct ErrorCause {
    pub severity: Severity,
    pub text: String,
}

impl ApiError {
    fn cause(&self) -> Option<ErrorCause> {
        match self {
            Self::Unauthorized(why) => {
                return Some(ErrorCause {
                    severity: Severity::Client,
                    text: format!("token refused: {why}"),
                })
            }
            Self::AuthUnavailable(why) => {
                return Some(ErrorCause {
                    severity: Severity::Degraded,
                    text: format!("user pool keys unavailable: {why}"),
                })
            }
            _ => {}
        }
        let (severity, source): (Severity, &(dyn std::error::Error + 'static)) = match self {
            Self::Internal(cause) => (Severity::Defect, cause.as_ref()),
            Self::Unavailable(cause) => (Severity::Degraded, cause),
            Self::InvalidValue(cause) | Self::Conflict(cause) => (Severity::Client, cause),
            _ => return None,
        };
        Some(ErrorCause {
            severity,
            text: domain::error_chain(source),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let cause = self.cause();
        let mut response = (self.status(), axum::Json(self.codes())).into_response();
        if matches!(self, Self::Overloaded) {
            // Shedding is momentary: a client may try again at once.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        if let Self::RateLimited(allowance) = &self {
            // The write-limit middleware reports it in the X-RateLimit headers.
            headers::refused(&mut response, *allowance);
        }
        if matches!(self, Self::Unauthorized(_)) {
            // RFC 6750: a 401 names the scheme the client should use.
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        response
    }
}
