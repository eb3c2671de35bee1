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

/// The answers every writing route (create, reply, profile update) may give besides its own,
/// documented once. Never constructed: it exists for the document.
#[derive(Debug, utoipa::IntoResponses)]
pub enum WriteRejections {
    #[response(status = 413, description = "`payload_too_large`")]
    PayloadTooLarge(Vec<String>),
    #[response(status = 415, description = "`unsupported_media_type`")]
    UnsupportedMediaType(Vec<String>),
    #[response(
        status = 401,
        description = "`unauthorized` (cognito mode: no valid access token)"
    )]
    Unauthorized(Vec<String>),
    #[response(
        status = 403,
        description = "`forbidden` (cognito mode: `user_handle` names another user)"
    )]
    Forbidden(Vec<String>),
    #[response(
        status = 429,
        description = "`rate_limited`: the client address or the author has used up their write allowance (see `Retry-After`)"
    )]
    RateLimited(Vec<String>),
    #[response(
        status = 503,
        description = "`auth_unavailable` (cognito mode: the pool's keys cannot be fetched) or `database_unavailable`"
    )]
    Unavailable(Vec<String>),
}
