//! Cruds: the home feed, creating a crud, a crud's status page, replying.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use db::activities::{self, ReplyOutcome};
use domain::{CrudFields, NewCrud, NewReply, ReplyFields};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::body::{json_str, JsonBody};
use crate::error::ApiError;
use crate::idempotency;
use crate::json::FeedItem;
use crate::path::PathParams;
use crate::responses::json;
use crate::routes::{cursor, field_schemas, page_limit, parse_handle, paths};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct FeedQuery {
    /// Page size, 1–100 (default 20; larger values are capped at 100).
    pub limit: Option<String>,
    /// Cursor: the `uuid` of the last item of the previous page.
    pub before: Option<String>,
}

/// Query of the status page: a page of the crud's replies, oldest first.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StatusQuery {
    /// Replies per page, 1–100 (default 20; larger values are capped at 100).
    pub limit: Option<String>,
    /// Cursor: the `uuid` of the last reply of the previous page.
    pub after: Option<String>,
}

/// The optional `Idempotency-Key` header of create and reply (see `crate::idempotency`); for
/// the document only, the handlers read it with `idempotency::key_of`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IdempotencyHeader {
    #[param(rename = "Idempotency-Key", schema_with = field_schemas::idempotency_key)]
    pub idempotency_key: Option<String>,
}

/// Body of `POST /api/activities`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateActivityRequest {
    /// 1–280 characters.
    #[schema(schema_with = field_schemas::crud_message)]
    pub message: Option<Value>,
    /// One of 30-days, 7-days, 3-days, 1-day, 12-hours, 3-hours, 1-hour.
    #[schema(schema_with = field_schemas::ttl)]
    pub ttl: Option<Value>,
    /// The author's handle: required in dev mode; in cognito mode optional, and when given it
    /// must be the token's user (else 403).
    #[schema(schema_with = field_schemas::crud_author)]
    pub user_handle: Option<Value>,
}

/// Body of `POST /api/activities/{uuid}/reply`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateReplyRequest {
    /// 1–1024 characters.
    #[schema(schema_with = field_schemas::reply_message)]
    pub message: Option<Value>,
    /// The author's handle (dev mode).
    #[schema(schema_with = field_schemas::reply_author)]
    pub user_handle: Option<Value>,
}

#[utoipa::path(
    get,
    path = paths::HOME,
    tag = "activities",
    params(FeedQuery),
    responses(
        (status = 200, description = "Unexpired cruds, newest first", body = Vec<crate::json::FeedItem>),
        (status = 400, description = "`invalid_limit` or `invalid_cursor`", body = Vec<String>),
        (status = 503, description = "`database_unavailable`", body = Vec<String>),
    )
)]
pub async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| ApiError::BadRequest("invalid_query"))?;
    let limit = page_limit(query.limit.as_deref())?;
    let before = cursor(query.before.as_deref())?;
    if let Some(cache) = state.feed_cache.as_ref() {
        if before.is_none() && limit == cache.limit() {
            return cache.respond(&headers).await;
        }
    }
    let replies = state.item_replies;
    let items =
        state
            .reads
            .read(move |pool| async move {
                activities::list_home_feed(&pool, limit, before, replies).await
            })
            .await?;
    json(StatusCode::OK, &crate::json::feed(items))
}

#[utoipa::path(
    post,
    path = paths::ACTIVITIES,
    tag = "activities",
    params(IdempotencyHeader),
    request_body = CreateActivityRequest,
    responses(
        (status = 200, description = "The created crud (with `Idempotent-Replayed: true` when an `Idempotency-Key` repeats an earlier create)", body = crate::json::FeedItem),
        (status = 404, description = "`not_found`: the `Idempotency-Key` repeats an earlier create whose crud has expired and been purged since (nothing is written again)", body = Vec<String>),
        (status = 422, description = "Every failing rule in the order ttl, user, message (`ttl_blank`, `user_handle_blank`, `message_blank`, `message_exceed_max_chars`, `message_invalid_characters`), `user_not_found`, or `idempotency_key_reused` (the key was used within 24 hours for another request)", body = Vec<String>),
        (status = 400, description = "`invalid_json`, `idempotency_key_invalid`, or `forwarded_for_invalid` (behind trusted proxies, TRUST_PROXY_HOPS: the entry of `X-Forwarded-For` the proxy appended is no address)", body = Vec<String>),
        super::rejections::WriteRejections,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateActivityRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency::key_of(&headers)?;
    state
        .write_as(&headers, json_str(&body.user_handle), async |author| {
            let crud = NewCrud::parse(CrudFields {
                ttl: json_str(&body.ttl),
                author,
                message: json_str(&body.message),
            })
            .map_err(ApiError::Validation)?;
            if let Some(key) = &key {
                return idempotency::answer(state.writes.create_once(&crud, key).await?);
            }
            let created = state
                .writes
                .create(crud)
                .await?
                .ok_or(ApiError::UserNotFound)?;
            json(StatusCode::OK, &FeedItem::from(created))
        })
        .await
}

#[utoipa::path(
    get,
    path = paths::STATUS,
    tag = "activities",
    params(
        ("handle" = String, Path, description = "Author handle"),
        ("uuid" = Uuid, Path, description = "Crud uuid"),
        StatusQuery,
    ),
    responses(
        (status = 200, description = "The crud and a page of its replies, oldest first (`replies_count` is the total)", body = crate::json::StatusPage),
        (status = 404, description = "`not_found`", body = Vec<String>),
        (status = 400, description = "`invalid_path` (a path segment that is not UTF-8), `invalid_limit`, `invalid_cursor` or `invalid_query`", body = Vec<String>),
        (status = 503, description = "`database_unavailable`", body = Vec<String>),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    PathParams((handle, uuid)): PathParams<(String, String)>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|_| ApiError::BadRequest("invalid_query"))?;
    let limit = page_limit(query.limit.as_deref())?;
    let after = cursor(query.after.as_deref())?;
    let handle = parse_handle(&handle)?;
    let uuid = Uuid::parse_str(&uuid).map_err(|_| ApiError::NotFound)?;
    let handle = handle.as_str();
    let page = state
        .reads
        .read(move |pool| async move {
            activities::show_activity(&pool, handle, uuid, limit, after).await
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    json(StatusCode::OK, &FeedItem::from(page).as_status_page())
}

#[utoipa::path(
    post,
    path = paths::REPLY,
    tag = "activities",
    params(
        ("uuid" = Uuid, Path, description = "The crud replied to"),
        IdempotencyHeader,
    ),
    request_body = CreateReplyRequest,
    responses(
        (status = 200, description = "The created reply (with `Idempotent-Replayed: true` when an `Idempotency-Key` repeats an earlier reply)", body = crate::json::FeedItem),
        (status = 404, description = "`not_found`: no such unexpired crud", body = Vec<String>),
        (status = 422, description = "`user_handle_blank`, `message_blank`, `message_exceed_max_chars`, `user_not_found`, or `idempotency_key_reused` (the key was used within 24 hours for another request)", body = Vec<String>),
        (status = 400, description = "`invalid_json`, `idempotency_key_invalid`, `invalid_path` (a path segment that is not UTF-8), or `forwarded_for_invalid` (behind trusted proxies, TRUST_PROXY_HOPS: the entry of `X-Forwarded-For` the proxy appended is no address)", body = Vec<String>),
        super::rejections::WriteRejections,
    )
)]
pub async fn reply(
    State(state): State<AppState>,
    PathParams(parent): PathParams<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateReplyRequest>,
) -> Result<Response, ApiError> {
    let parent = Uuid::parse_str(&parent).map_err(|_| ApiError::NotFound)?;
    let key = idempotency::key_of(&headers)?;
    state
        .write_as(&headers, json_str(&body.user_handle), async |author| {
            let new_reply = NewReply::parse(ReplyFields {
                author,
                message: json_str(&body.message),
            })
            .map_err(ApiError::Validation)?;
            if let Some(key) = &key {
                return idempotency::answer(
                    state.writes.reply_once(parent, &new_reply, key).await?,
                );
            }
            match state.writes.reply(parent, &new_reply).await? {
                ReplyOutcome::Created(row) => json(StatusCode::OK, &FeedItem::from(row)),
                ReplyOutcome::UnknownAuthor => Err(ApiError::UserNotFound),
                ReplyOutcome::UnknownParent => Err(ApiError::NotFound),
            }
        })
        .await
}
