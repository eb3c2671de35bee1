//! Cruds ("activities"): the home feed, creating cruds and replies, a crud's status page.

use chrono::{DateTime, Utc};
use domain::{NewCrud, NewReply};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::error::DbError;
use crate::json::RawJson;
use crate::pool::{checkout, Pool};

/// One crud as the feed shows it. `replies` is Postgres-built JSON, `None` when it has none.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub uuid: Uuid,
    pub display_name: String,
    pub handle: String,
    pub message: String,
    pub replies_count: i32,
    pub reposts_count: i32,
    pub likes_count: i32,
    pub reply_to_activity_uuid: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub replies: Option<RawJson>,
}

impl FeedItem {
    /// Reads the feed-item columns starting at `first` (same order in every activities query).
    pub(crate) fn from_row(row: &Row, first: usize) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            uuid: row.try_get(first)?,
            display_name: row.try_get(first + 1)?,
            handle: row.try_get(first + 2)?,
            message: row.try_get(first + 3)?,
            replies_count: row.try_get(first + 4)?,
            reposts_count: row.try_get(first + 5)?,
            likes_count: row.try_get(first + 6)?,
            reply_to_activity_uuid: row.try_get(first + 7)?,
            expires_at: row.try_get(first + 8)?,
            created_at: row.try_get(first + 9)?,
            replies: row.try_get(first + 10)?,
        })
    }
}

/// What [`create_reply`] did.
#[derive(Debug)]
pub enum ReplyOutcome {
    Created(FeedItem),
    UnknownAuthor,
    /// The crud replied to does not exist or has expired.
    UnknownParent,
}

/// A page of the home feed: unexpired top-level cruds, newest first, older than `before` when
/// given (the uuid of the previous page's last item).
pub async fn list_home_feed(
    pool: &Pool,
    limit: i64,
    before: Option<Uuid>,
) -> Result<Vec<FeedItem>, DbError> {
    let client = checkout(pool).await?;
    let rows = match before {
        None => {
            let statement = client
                .prepare_cached(include_str!("../sql/activities/list_home_feed.sql"))
                .await?;
            client.query(&statement, &[&limit]).await?
        }
        Some(cursor) => {
            let statement = client
                .prepare_cached(include_str!("../sql/activities/list_home_feed_before.sql"))
                .await?;
            client.query(&statement, &[&limit, &cursor]).await?
        }
    };
    rows.iter()
        .map(|row| FeedItem::from_row(row, 0).map_err(DbError::from))
        .collect()
}

/// Creates a crud; `Ok(None)` (and nothing written) when the author handle is unknown.
pub async fn create_activity(pool: &Pool, crud: &NewCrud) -> Result<Option<FeedItem>, DbError> {
    let client = checkout(pool).await?;
    let statement = client
        .prepare_cached(include_str!("../sql/activities/create_activity.sql"))
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &crud.author.as_str(),
                &crud.message.as_str(),
                &crud.ttl.seconds(),
            ],
        )
        .await?;
    let item = row.map(|r| FeedItem::from_row(&r, 0)).transpose()?;
    if let Some(item) = &item {
        tracing::info!(activity_uuid = %item.uuid, ttl = %crud.ttl, "activity created");
    }
    Ok(item)
}

/// Replies to `parent` as `reply.author`, in one statement that also bumps the parent's count.
pub async fn create_reply(
    pool: &Pool,
    parent: Uuid,
    reply: &NewReply,
) -> Result<ReplyOutcome, DbError> {
    let client = checkout(pool).await?;
    let statement = client
        .prepare_cached(include_str!("../sql/activities/create_reply.sql"))
        .await?;
    let row = client
        .query_one(
            &statement,
            &[&parent, &reply.author.as_str(), &reply.message.as_str()],
        )
        .await?;
    let author_found: bool = row.try_get(0)?;
    let parent_found: bool = row.try_get(1)?;
    if !author_found {
        return Ok(ReplyOutcome::UnknownAuthor);
    }
    let created: Option<Uuid> = row.try_get(2)?;
    if !parent_found || created.is_none() {
        return Ok(ReplyOutcome::UnknownParent);
    }
    let item = FeedItem::from_row(&row, 2)?;
    tracing::info!(activity_uuid = %item.uuid, parent_uuid = %parent, "reply created");
    Ok(ReplyOutcome::Created(item))
}

/// `{"activity": …, "replies": […]}` for an unexpired crud of `handle`, built by Postgres.
pub async fn show_activity(
    pool: &Pool,
    handle: &str,
    uuid: Uuid,
) -> Result<Option<RawJson>, DbError> {
    let client = checkout(pool).await?;
    let statement = client
        .prepare_cached(include_str!("../sql/activities/show_activity.sql"))
        .await?;
    let row = client.query_opt(&statement, &[&handle, &uuid]).await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}
