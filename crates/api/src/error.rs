//! Every error the API returns: a status and a JSON array of codes (the original's contract,
//! which the Cruddur frontend displays). 5xx bodies say nothing more; causes go to the log,
//! inside the request's span.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use db::DbError;
use domain::Rule;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(Vec<Rule>),
    #[error("unknown author")]
    UserNotFound,
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict")]
    Conflict,
    #[error("value rejected by the database")]
    InvalidValue,
    #[error("database unavailable")]
    Unavailable(#[source] DbError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::UserNotFound | Self::InvalidValue => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn codes(&self) -> Vec<&'static str> {
        match self {
            Self::Validation(rules) => rules.iter().map(|r| r.code()).collect(),
            Self::UserNotFound => vec!["user_not_found"],
            Self::NotFound => vec!["not_found"],
            Self::BadRequest(code) => vec![code],
            Self::UnsupportedMediaType => vec!["unsupported_media_type"],
            Self::PayloadTooLarge => vec!["payload_too_large"],
            Self::MethodNotAllowed => vec!["method_not_allowed"],
            Self::Conflict => vec!["conflict"],
            Self::InvalidValue => vec!["invalid_value"],
            Self::Unavailable(_) => vec!["database_unavailable"],
            Self::Internal(_) => vec!["internal_error"],
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Unavailable { .. } | DbError::Timeout => Self::Unavailable(e),
            DbError::Conflict { .. } => Self::Conflict,
            DbError::InvalidValue { .. } | DbError::Violation { .. } => {
                tracing::info!(error = %e, "database rejected a value");
                Self::InvalidValue
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(cause) => {
                tracing::error!(error = %error_chain(cause.as_ref()), "request failed")
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable")
            }
            _ => {}
        }
        (self.status(), axum::Json(self.codes())).into_response()
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
