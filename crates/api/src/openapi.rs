//! The OpenAPI 3 document, generated from the handlers' annotations and from the very types the
//! responses are encoded from (`crate::json`), served at `/api/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use crate::routes::{activities, health, profile, users};

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Cruddur API", description = "Cruds: posts that expire."),
    paths(
        health::health_check,
        activities::home,
        activities::create,
        activities::show,
        activities::reply,
        users::page,
        users::short,
        profile::update,
    ),
    components(schemas(
        crate::json::Activity,
        crate::json::FeedItem,
        crate::json::StatusPage,
        crate::json::Profile,
        crate::json::UserPage,
        crate::json::UserShort,
        health::HealthResponse,
        activities::CreateActivityRequest,
        activities::CreateReplyRequest,
        profile::ProfileUpdateRequest,
    ))
)]
pub struct ApiDoc;

/// The document, built once (it never changes while the server runs).
static DOCUMENT: std::sync::LazyLock<utoipa::openapi::OpenApi> =
    std::sync::LazyLock::new(ApiDoc::openapi);

pub async fn serve() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(&DOCUMENT)
}
