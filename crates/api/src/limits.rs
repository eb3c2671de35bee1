//! Limits every request lives under: a whole-request timeout (`503 ["timeout"]`), a cap on
//! requests in flight across all routes with load shedding (`503 ["overloaded"]` and
//! `Retry-After` at once, instead of an unbounded queue), and a panic in a handler answered
//! `500 ["internal_error"]` instead of a dropped connection. All from tower / tower-http layers.

use std::any::Any;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{BoxError, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;

/// Default for [`Limits::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 10;
/// Default for [`Limits::max_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 1024;

/// The limits of [`apply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest a request may take from routing to its answer.
    pub request_timeout: Duration,
    /// Most requests handled at once, all routes together; more are refused at once.
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// Puts every route of `app` under `limits`, and catches panics.
pub fn apply(app: Router, limits: &Limits) -> Router {
    app.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(refused))
            .load_shed()
            // Global: one semaphore shared by the clones the router makes for each route.
            .layer(GlobalConcurrencyLimitLayer::new(
                limits.max_in_flight.max(1),
            ))
            .timeout(limits.request_timeout),
    )
    .layer(CatchPanicLayer::custom(panicked))
}

async fn refused(error: BoxError) -> ApiError {
    if error.is::<tower::load_shed::error::Overloaded>() {
        ApiError::Overloaded
    } else if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::Timeout
    } else {
        ApiError::Internal(error)
    }
}

/// A handler's panic, as the defect it is.
#[derive(Debug, thiserror::Error)]
#[error("a handler panicked: {0}")]
struct Panicked(String);

fn panicked(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    ApiError::Internal(Box::new(Panicked(message))).into_response()
}
