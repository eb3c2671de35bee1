//! The OpenAPI 3 document, generated from the handlers' annotations and from the very types the
//! responses are encoded from (`db::activity`, `db::users`), served at `/api/openapi.json`.

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
        db::activity::Activity,
        db::activity::FeedItem,
        db::activity::StatusPage,
        db::users::Profile,
        db::users::UserPage,
        db::users::UserShort,
        health::HealthResponse,
        activities::CreateActivityRequest,
        activities::CreateReplyRequest,
        profile::ProfileUpdateRequest,
    ))
)]
pub struct ApiDoc;

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
