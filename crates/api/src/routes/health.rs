//! `GET /api/health-check`: whether the service and its database answer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ErrorCause, Severity};
use crate::routes::paths;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    pub success: bool,
    pub ver: u32,
}

/// The API version reported by the health check.
pub const API_VERSION: u32 = 1;

#[utoipa::path(
    get,
    path = paths::HEALTH_CHECK,
    tag = "health",
    responses(
        (status = 200, description = "Service and database answer", body = HealthResponse),
        (status = 503, description = "The database is unreachable", body = HealthResponse),
    )
)]
pub async fn health_check(State(state): State<AppState>) -> Response {
    let outcome = db::health::ping(&state.pool).await;
    let status = if outcome.is_ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = HealthResponse {
        success: outcome.is_ok(),
        ver: API_VERSION,
    };
    let mut response = (status, Json(body)).into_response();
    if let Err(e) = outcome {
        response.extensions_mut().insert(ErrorCause {
            severity: Severity::Degraded,
            text: domain::error_chain(&e),
        });
    }
    response
}
