//! JSON shapes the server encodes itself (the feed, created cruds, short users), and responses
//! that pass Postgres-built JSON through untouched.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use db::activities::FeedItem;
use db::json::RawJson;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;

/// A crud in the feed (also the body of a created crud or reply).
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityResponse<'a> {
    pub uuid: Uuid,
    pub display_name: &'a str,
    pub handle: &'a str,
    pub message: &'a str,
    pub replies_count: i32,
    pub reposts_count: i32,
    pub likes_count: i32,
    pub reply_to_activity_uuid: Option<Uuid>,
    /// RFC 3339 with offset, e.g. `2026-11-25T09:41:37.123456+00:00`.
    #[serde(serialize_with = "rfc3339_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// The crud's replies, oldest first; `[]` when none.
    #[schema(value_type = Vec<Object>)]
    pub replies: &'a RawValue,
}

impl<'a> ActivityResponse<'a> {
    pub fn from_item(item: &'a FeedItem, replies: &'a RawValue) -> Self {
        Self {
            uuid: item.uuid,
            display_name: &item.display_name,
            handle: &item.handle,
            message: &item.message,
            replies_count: item.replies_count,
            reposts_count: item.reposts_count,
            likes_count: item.likes_count,
            reply_to_activity_uuid: item.reply_to_activity_uuid,
            expires_at: item.expires_at,
            created_at: item.created_at,
            replies,
        }
    }
}

fn empty_array() -> &'static RawValue {
    static EMPTY: OnceLock<Box<RawValue>> = OnceLock::new();
    EMPTY.get_or_init(|| RawValue::from_string("[]".to_owned()).expect("[] is JSON"))
}

/// The replies of an item as raw JSON: Postgres's text when it has some, else `[]`.
fn replies_of(item: &FeedItem) -> Result<Option<Box<RawValue>>, ApiError> {
    item.replies
        .as_ref()
        .map(|raw| RawValue::from_string(raw.as_str().to_owned()))
        .transpose()
        .map_err(|e| ApiError::Internal(Box::new(e)))
}

/// Encodes feed items; replies are embedded as Postgres wrote them.
pub fn activities_json(items: &[FeedItem]) -> Result<Response, ApiError> {
    let replies: Vec<Option<Box<RawValue>>> =
        items.iter().map(replies_of).collect::<Result<_, _>>()?;
    let views: Vec<ActivityResponse<'_>> = items
        .iter()
        .zip(&replies)
        .map(|(item, r)| ActivityResponse::from_item(item, r.as_deref().unwrap_or(empty_array())))
        .collect();
    json_bytes(StatusCode::OK, serde_json::to_vec(&views))
}

/// Encodes one item (a created crud or reply).
pub fn activity_json(status: StatusCode, item: &FeedItem) -> Result<Response, ApiError> {
    let replies = replies_of(item)?;
    let view = ActivityResponse::from_item(item, replies.as_deref().unwrap_or(empty_array()));
    json_bytes(status, serde_json::to_vec(&view))
}

pub fn json_bytes(
    status: StatusCode,
    encoded: serde_json::Result<Vec<u8>>,
) -> Result<Response, ApiError> {
    let body = encoded.map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok((
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response())
}

/// JSON that Postgres built, sent as is.
pub fn raw_json(json: RawJson) -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json.into_string(),
    )
        .into_response()
}

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Micros, false))
}

fn rfc3339_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => rfc3339(t, s),
        None => s.serialize_none(),
    }
}
