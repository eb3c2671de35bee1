//! Users: a user's page and the short form.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::json::{UserPage, UserShort};
use crate::path::PathParams;
use crate::responses::json;
use crate::routes::{page_limit, parse_handle, paths};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct UserPageQuery {
    /// How many of the user's newest cruds, 1–100 (default 20; larger values are capped at 100).
    pub limit: Option<String>,
}

#[utoipa::path(
    get,
    path = paths::USER_PAGE,
    tag = "users",
    params(("handle" = String, Path, description = "User handle"), UserPageQuery),
    responses(
        (status = 200, description = "Profile and newest cruds", body = crate::json::UserPage),
        (status = 404, description = "`not_found`", body = Vec<String>),
        (status = 400, description = "`invalid_path`: a path segment that is not UTF-8", body = Vec<String>),
    )
)]
pub async fn page(
    State(state): State<AppState>,
    PathParams(handle): PathParams<String>,
    query: Result<Query<UserPageQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| ApiError::BadRequest("invalid_query"))?;
    let handle = parse_handle(&handle)?;
    let limit = page_limit(query.limit.as_deref())?;
    let replies = state.item_replies;
    let handle = handle.as_str();
    let page =
        state
            .reads
            .read(move |pool| async move {
                db::users::show_user_page(&pool, handle, limit, replies).await
            })
            .await?
            .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, &UserPage::from(page))
}

#[utoipa::path(
    get,
    path = paths::USER_SHORT,
    tag = "users",
    params(("handle" = String, Path, description = "User handle")),
    responses(
        (status = 200, description = "uuid, handle and display name", body = crate::json::UserShort),
        (status = 404, description = "`not_found`", body = Vec<String>),
        (status = 400, description = "`invalid_path`: a path segment that is not UTF-8", body = Vec<String>),
    )
)]
pub async fn short(
    State(state): State<AppState>,
    PathParams(handle): PathParams<String>,
) -> Result<Response, ApiError> {
    let handle = parse_handle(&handle)?;
    let handle = handle.as_str();
    let user = state
        .reads
        .read(move |pool| async move { db::users::find_user_short(&pool, handle).await })
        .await?
        .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, &UserShort::from(user))
}
