//! Cruds ("activities"): the home feed, creating cruds and replies, a crud's status page. Every
//! query returns rows in the one shape of [`crate::activity`].

use chrono::{DateTime, Utc};
use domain::NewReply;
use uuid::Uuid;

use crate::activity::CrudRow;
use crate::error::DbError;
use crate::pool::{checkout, Pool};
use crate::statement::{
    CREATE_REPLY, LIST_HOME_FEED, LIST_HOME_FEED_BEFORE, PURGE_EXPIRED, PURGE_KEYS,
    PURGE_WEB_SESSIONS, SHOW_ACTIVITY, SHOW_ACTIVITY_AFTER,
};

/// What [`create_reply`] did.
#[derive(Debug)]
pub enum ReplyOutcome {
    Created(CrudRow),
    UnknownAuthor,
    /// The crud replied to does not exist or has expired.
    UnknownParent,
}

/// Replies a feed or user-page item carries by default (its newest; `replies_count` is the
/// true total; the status page pages through them all).
pub const DEFAULT_ITEM_REPLIES: i64 = 3;
/// Default batch size of a purge (each batch is one short transaction).
pub const DEFAULT_PURGE_BATCH: i64 = 1_000;
/// Default bound on batches per purge run.
pub const DEFAULT_PURGE_MAX_BATCHES: u64 = 100;

/// A page of the home feed: unexpired top-level cruds, newest first, older than `before` when
/// given (the uuid of the previous page's last item), each with its newest `replies` replies.
pub async fn list_home_feed(
    pool: &Pool,
    limit: i64,
    before: Option<Uuid>,
    replies: i64,
) -> Result<Vec<CrudRow>, DbError> {
    let Some(cursor) = before else {
        return Ok(home_feed_snapshot(pool, limit, replies).await?.0);
    };
    let client = checkout(pool).await?;
    let rows = pool
        .statements_on(&client)
        .query(&LIST_HOME_FEED_BEFORE, &[&limit, &cursor, &replies])
        .await?;
    rows.iter()
        .map(|row| CrudRow::from_row(row).map_err(DbError::from))
        .collect()
}

/// The home feed's first page as [`list_home_feed`] gives it, with the database's clock when it
/// was read (`None` for an empty page): what a cache needs to drop the page at its first expiry.
pub async fn home_feed_snapshot(
    pool: &Pool,
    limit: i64,
    replies: i64,
) -> Result<(Vec<CrudRow>, Option<DateTime<Utc>>), DbError> {
    let client = checkout(pool).await?;
    let rows = pool
        .statements_on(&client)
        .query(&LIST_HOME_FEED, &[&limit, &replies])
        .await?;
    let db_now = rows
        .first()
        .map(|row| row.try_get::<_, DateTime<Utc>>("db_now"))
        .transpose()?;
    let items = rows
        .iter()
        .map(|row| CrudRow::from_row(row).map_err(DbError::from))
        .collect::<Result<_, _>>()?;
    Ok((items, db_now))
}

/// What one purge run removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PurgeReport {
    /// Expired top-level cruds deleted (their replies went with them).
    pub cruds: u64,
    /// Idempotency keys older than 24 hours deleted (a purged crud's key goes with it, uncounted).
    pub keys: u64,
    /// Ended sign-in sessions deleted (idle or absolute end passed).
    pub sessions: u64,
    /// Batches of cruds run (each its own transaction).
    pub batches: u64,
    /// Whether expired cruds, old keys or ended sessions may remain (the run stopped at its batch bound).
    pub more_left: bool,
}

/// Deletes expired cruds, then idempotency keys older than 24 hours, then ended sign-in
/// sessions, in batches of `batch`
/// (each its own short transaction, so no table is locked for long), at most `max_batches` of
/// each per run.
pub async fn purge_expired(
    pool: &Pool,
    batch: i64,
    max_batches: u64,
) -> Result<PurgeReport, DbError> {
    let client = checkout(pool).await?;
    let mut report = PurgeReport::default();
    // A plain loop per table: a closure over the connection would make the future unsendable.
    let mut cruds_left = true;
    while report.batches < max_batches {
        let deleted = pool
            .statements_on(&client)
            .execute(&PURGE_EXPIRED, &[&batch])
            .await?;
        report.batches += 1;
        report.cruds += deleted;
        if is_last(deleted, batch) {
            cruds_left = false;
            break;
        }
    }
    let mut keys_left = true;
    for _ in 0..max_batches {
        let deleted = pool
            .statements_on(&client)
            .execute(&PURGE_KEYS, &[&batch])
            .await?;
        report.keys += deleted;
        if is_last(deleted, batch) {
            keys_left = false;
            break;
        }
    }
    let mut sessions_left = true;
    for _ in 0..max_batches {
        let deleted = pool
            .statements_on(&client)
            .execute(&PURGE_WEB_SESSIONS, &[&batch])
            .await?;
        report.sessions += deleted;
        if is_last(deleted, batch) {
            sessions_left = false;
            break;
        }
    }
    report.more_left = cruds_left || keys_left || sessions_left;
    Ok(report)
}

/// Whether a batch that deleted `deleted` of at most `batch` rows was the last one needed.
fn is_last(deleted: u64, batch: i64) -> bool {
    i64::try_from(deleted).unwrap_or(i64::MAX) < batch
}

/// Replies to `parent` as `reply.author`; the parent's `replies_count` follows by trigger.
pub async fn create_reply(
    pool: &Pool,
    parent: Uuid,
    reply: &NewReply,
) -> Result<ReplyOutcome, DbError> {
    let client = checkout(pool).await?;
    let row = pool
        .statements_on(&client)
        .query_one(
            &CREATE_REPLY,
            &[&parent, &reply.author.as_str(), &reply.message.as_str()],
        )
        .await?;
    let author_found: bool = row.try_get("author_found")?;
    let parent_found: bool = row.try_get("parent_found")?;
    if !author_found {
        return Ok(ReplyOutcome::UnknownAuthor);
    }
    match CrudRow::from_optional_row(&row)? {
        Some(item) if parent_found => {
            tracing::info!(activity_uuid = %item.activity.uuid, parent_uuid = %parent, "reply created");
            Ok(ReplyOutcome::Created(item))
        }
        _ => Ok(ReplyOutcome::UnknownParent),
    }
}

/// An unexpired crud of `handle` and a page of its replies, oldest first: the first `limit`, or
/// the `limit` after the reply `after` (the previous page's last). `None` when there is no such
/// crud; an `after` that is not one of its replies gives no replies.
pub async fn show_activity(
    pool: &Pool,
    handle: &str,
    uuid: Uuid,
    limit: i64,
    after: Option<Uuid>,
) -> Result<Option<CrudRow>, DbError> {
    let client = checkout(pool).await?;
    let row = match after {
        None => {
            pool.statements_on(&client)
                .query_opt(&SHOW_ACTIVITY, &[&handle, &uuid, &limit])
                .await?
        }
        Some(cursor) => {
            pool.statements_on(&client)
                .query_opt(&SHOW_ACTIVITY_AFTER, &[&handle, &uuid, &limit, &cursor])
                .await?
        }
    };
    Ok(row.map(|r| CrudRow::from_row(&r)).transpose()?)
}
