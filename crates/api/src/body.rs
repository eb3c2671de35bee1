//! Request bodies: JSON only, every rejection turned into the API's error codes, and fields read
//! leniently so a missing or mistyped field is a validation error, never a crash.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// Largest request body accepted (a 1024-character reply in 4-byte characters fits easily).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// `axum::Json` with our rejections.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(map_rejection(&rejection)),
        }
    }
}

fn map_rejection(rejection: &JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        _ => ApiError::BadRequest("invalid_json"),
    }
}

/// A field's text when it is a JSON string; anything else counts as missing.
pub fn json_str(field: &Option<Value>) -> Option<&str> {
    field.as_ref().and_then(Value::as_str)
}
