//! JSON responses. Every body is one of the data layer's types (`db::activity`, `db::users`),
//! encoded by serde in one place, so a crud is spelled the same on every route.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// `value` as an `application/json` response with `status`.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok((
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}
