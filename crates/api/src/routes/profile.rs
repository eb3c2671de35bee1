//! `PUT`/`POST /api/profile/update`: the writer's display name and bio (the final Cruddur
//! frontend sends PUT).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::{ProfileEdit, ProfileFields};
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::body::{json_str, JsonBody};
use crate::error::ApiError;
use crate::json::UserShort;
use crate::responses::json;
use crate::routes::{field_schemas, paths};
use crate::state::AppState;

/// Body of the profile update.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileUpdateRequest {
    /// 1–64 characters.
    #[schema(schema_with = field_schemas::display_name)]
    pub display_name: Option<Value>,
    /// Up to 160 characters; absent, null or blank clears it.
    #[schema(schema_with = field_schemas::bio)]
    pub bio: Option<Value>,
    /// Whose profile: required in dev mode; in cognito mode optional, and when given it must be
    /// the token's user (else 403).
    #[schema(schema_with = field_schemas::profile_owner)]
    pub user_handle: Option<Value>,
}

#[utoipa::path(
    method(put, post),
    path = paths::PROFILE_UPDATE,
    tag = "users",
    request_body = ProfileUpdateRequest,
    responses(
        (status = 200, description = "The updated short form", body = crate::json::UserShort),
        (status = 422, description = "Every failing rule: `user_handle_blank`, `display_name_blank`, `display_name_exceed_max_chars`, `display_name_invalid_characters`, `bio_exceed_max_chars`, `bio_invalid_characters`; or `user_not_found`", body = Vec<String>),
        (status = 400, description = "`invalid_json`, or `forwarded_for_invalid` (behind trusted proxies, TRUST_PROXY_HOPS: the entry of `X-Forwarded-For` the proxy appended is no address)", body = Vec<String>),
        super::rejections::WriteRejections,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ProfileUpdateRequest>,
) -> Result<Response, ApiError> {
    state
        .write_as(&headers, json_str(&body.user_handle), async |author| {
            let edit = ProfileEdit::parse(ProfileFields {
                author,
                display_name: json_str(&body.display_name),
                bio: json_str(&body.bio),
            })
            .map_err(ApiError::Validation)?;
            let user = state
                .writes
                .update_profile(&edit.author, &edit.update)
                .await?
                .ok_or(ApiError::UserNotFound)?;
            json(StatusCode::OK, &UserShort::from(user))
        })
        .await
}
