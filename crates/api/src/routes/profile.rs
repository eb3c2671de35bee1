//! `PUT`/`POST /api/profile/update`: the writer's display name and bio (the final Cruddur
//! frontend sends PUT).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::ProfileEdit;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::body::{text, JsonBody};
use crate::error::ApiError;
use crate::responses::json;
use crate::AppState;

/// Body of the profile update.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileUpdateRequest {
    /// 1–64 characters.
    #[schema(value_type = Option<String>, min_length = 1, max_length = 64)]
    pub display_name: Option<Value>,
    /// Up to 160 characters; absent, null or blank clears it.
    #[schema(value_type = Option<String>, max_length = 160)]
    pub bio: Option<Value>,
    /// Whose profile: required in dev mode; in cognito mode optional, and when given it must be
    /// the token's user (else 403).
    #[schema(value_type = Option<String>, pattern = "^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$", max_length = 30)]
    pub user_handle: Option<Value>,
}

#[utoipa::path(
    method(put, post),
    path = "/api/profile/update",
    tag = "users",
    request_body = ProfileUpdateRequest,
    responses(
        (status = 200, description = "The updated short form", body = db::users::UserShort),
        (status = 422, description = "Every failing rule: `user_handle_blank`, `display_name_blank`, `display_name_exceed_max_chars`, `display_name_invalid_characters`, `bio_exceed_max_chars`, `bio_invalid_characters`; or `user_not_found`", body = Vec<String>),
        (status = 400, description = "`invalid_json`", body = Vec<String>),
        crate::openapi::WriteRejections,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ProfileUpdateRequest>,
) -> Result<Response, ApiError> {
    state
        .write_as(&headers, text(&body.user_handle), async |author| {
            let edit = ProfileEdit::parse(author, text(&body.display_name), text(&body.bio))
                .map_err(ApiError::Validation)?;
            let user = db::users::update_profile(&state.pool, edit.author.as_str(), &edit.update)
                .await?
                .ok_or(ApiError::UserNotFound)?;
            // Cards show the display name: the cached feed page may be out of date now.
            state.wrote();
            json(StatusCode::OK, &user)
        })
        .await
}
