//! The one activity shape: a row of the `live_activities` view (migration V2), decoded by name
//! and encoded to JSON in one place, so a crud is spelled the same on every route.

use chrono::{DateTime, SecondsFormat, Utc};
use postgres_types::FromSql;
use serde::{Serialize, Serializer};
use tokio_postgres::Row;
use uuid::Uuid;

/// A crud (or a reply) as every route shows it.
#[derive(Debug, Clone, PartialEq, Eq, FromSql, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[postgres(name = "live_activities")]
pub struct Activity {
    pub uuid: Uuid,
    /// The author's id: used by queries, not part of the JSON.
    #[serde(skip)]
    pub user_uuid: Uuid,
    pub display_name: String,
    pub handle: String,
    pub message: String,
    pub replies_count: i32,
    pub reposts_count: i32,
    pub likes_count: i32,
    /// The crud replied to; `null` for a top-level crud (always present).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub reply_to_activity_uuid: Option<Uuid>,
    /// RFC 3339 with offset, e.g. `2026-11-25T09:41:37.123450+00:00`.
    #[serde(serialize_with = "timestamp_opt")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, format = DateTime, required = true)
    )]
    pub expires_at: Option<DateTime<Utc>>,
    /// RFC 3339 with offset, e.g. `2026-11-25T09:41:37.123450+00:00`.
    #[serde(serialize_with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: DateTime<Utc>,
}

/// A crud with its replies (oldest first): a feed or user-page item, a created crud or reply
/// (`replies` empty), and the status page (`{"activity", "replies"}`, see [`StatusPage`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedItem {
    #[serde(flatten)]
    pub activity: Activity,
    pub replies: Vec<Activity>,
}

impl FeedItem {
    /// Reads the `activity` and `replies` columns that every activities query returns.
    pub(crate) fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
            activity: row.try_get("activity")?,
            replies: row.try_get("replies")?,
        })
    }

    /// Like [`FeedItem::from_row`] where `activity` may be NULL (nothing was found or written).
    pub(crate) fn from_optional_row(row: &Row) -> Result<Option<Self>, tokio_postgres::Error> {
        let activity: Option<Activity> = row.try_get("activity")?;
        Ok(match activity {
            Some(activity) => Some(Self {
                activity,
                replies: row.try_get("replies")?,
            }),
            None => None,
        })
    }
}

/// `GET /api/activities/@{handle}/status/{uuid}`: a crud and a page of its replies, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusPage {
    pub activity: Activity,
    pub replies: Vec<Activity>,
}

impl From<FeedItem> for StatusPage {
    fn from(item: FeedItem) -> Self {
        Self {
            activity: item.activity,
            replies: item.replies,
        }
    }
}

/// The one spelling of a timestamp: RFC 3339, always six fraction digits, `+00:00`.
pub fn encode_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, false)
}

fn timestamp<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode_timestamp(t))
}

fn timestamp_opt<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => timestamp(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_always_have_six_fraction_digits_and_an_offset() {
        let t = Utc.timestamp_opt(1_764_064_000, 747_610_000).single();
        let t = t.expect("valid instant");
        assert_eq!(encode_timestamp(&t), "2025-11-25T09:46:40.747610+00:00");
        let whole = Utc.timestamp_opt(1_764_064_000, 0).single().expect("valid");
        assert_eq!(encode_timestamp(&whole), "2025-11-25T09:46:40.000000+00:00");
    }
}
