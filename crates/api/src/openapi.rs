//! The OpenAPI 3 document, generated from the handlers' annotations, served at
//! `/api/openapi.json`. The Postgres-built responses are described by the structs below; tests
//! decode real responses into them (unknown fields rejected), so the document cannot drift.

use axum::Json;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::routes::{activities, health, users};

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
    ),
    components(schemas(
        crate::responses::ActivityResponse,
        health::HealthResponse,
        activities::CreateActivityRequest,
        activities::CreateReplyRequest,
        users::UserShortResponse,
        StatusPage,
        UserPage,
        Profile,
        ActivityFields,
        FeedItemFields,
    ))
)]
pub struct ApiDoc;

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// A crud without its replies (the status page's `activity`, and each reply).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityFields {
    pub uuid: Uuid,
    pub display_name: String,
    pub handle: String,
    pub message: String,
    pub replies_count: i32,
    pub reposts_count: i32,
    pub likes_count: i32,
    pub reply_to_activity_uuid: Option<Uuid>,
    /// RFC 3339 with offset.
    pub expires_at: Option<String>,
    /// RFC 3339 with offset.
    pub created_at: String,
}

/// A crud with its replies, as on a user's page.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedItemFields {
    pub uuid: Uuid,
    pub display_name: String,
    pub handle: String,
    pub message: String,
    pub replies_count: i32,
    pub reposts_count: i32,
    pub likes_count: i32,
    pub reply_to_activity_uuid: Option<Uuid>,
    pub expires_at: Option<String>,
    pub created_at: String,
    pub replies: Vec<ActivityFields>,
}

/// `GET /api/activities/@{handle}/status/{uuid}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusPage {
    pub activity: ActivityFields,
    pub replies: Vec<ActivityFields>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub uuid: Uuid,
    pub handle: String,
    pub display_name: String,
    pub bio: Option<String>,
    /// The user's unexpired cruds (replies not counted).
    pub cruds_count: i64,
}

/// `GET /api/activities/@{handle}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPage {
    pub profile: Profile,
    pub activities: Vec<FeedItemFields>,
}
