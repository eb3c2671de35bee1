//! The one activity row: a row of the `live_activities` view (migration V2), decoded by name,
//! and the crud-with-replies row every activities query returns. Their JSON is the API's
//! (`api::json`).

use chrono::{DateTime, Utc};
use postgres_types::FromSql;
use tokio_postgres::Row;
use uuid::Uuid;

/// A crud (or a reply) as the database has it.
#[derive(Debug, Clone, PartialEq, Eq, FromSql)]
#[postgres(name = "live_activities")]
pub struct ActivityRow {
    pub uuid: Uuid,
    /// The author's id.
    pub user_uuid: Uuid,
    pub display_name: String,
    pub handle: String,
    pub message: String,
    pub replies_count: i32,
    pub reposts_count: i32,
    pub likes_count: i32,
    /// The crud replied to; `None` for a top-level crud.
    pub reply_to_activity_uuid: Option<Uuid>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A crud and some of its replies, oldest first (the `activity` and `replies` columns of every
/// activities query): a feed or user-page item (its newest replies), a status page (a page of
/// them), a created crud or reply (none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrudRow {
    pub activity: ActivityRow,
    pub replies: Vec<ActivityRow>,
}

impl CrudRow {
    /// Reads the `activity` and `replies` columns.
    pub(crate) fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            activity: row.try_get("activity")?,
            replies: row.try_get("replies")?,
        })
    }

    /// Like [`CrudRow::from_row`] where `activity` may be NULL (nothing was found or written).
    pub(crate) fn from_optional_row(row: &Row) -> Result<Option<Self>, tokio_postgres::Error> {
        let activity: Option<ActivityRow> = row.try_get("activity")?;
        Ok(match activity {
            Some(activity) => Some(Self {
                activity,
                replies: row.try_get("replies")?,
            }),
            None => None,
        })
    }
}
