//! `GET /api/health-check`: whether the service and its database answer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    pub success: bool,
    pub ver: u32,
}

/// The API version reported by the health check.
pub const API_VERSION: u32 = 1;

#[utoipa::path(
    get,
    path = "/api/health-check",
    tag = "health",
    responses(
        (status = 200, description = "Service and database answer", body = HealthResponse),
        (status = 503, description = "The database is unreachable", body = HealthResponse),
    )
)]
pub async fn health_check(State(state): State<AppState>) -> (StatusCode, Json<HealthResponse>) {
    match db::health::ping(&state.pool).await {
        Ok(()) => (
            StatusCode::OK,
            Json(HealthResponse {
                success: true,
                ver: API_VERSION,
            }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(HealthResponse {
                    success: false,
                    ver: API_VERSION,
                }),
            )
        }
    }
}
