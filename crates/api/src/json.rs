//! The JSON contract: every body the API answers with, its OpenAPI schema, and the one spelling
//! of a timestamp. Made from the data layer's rows by moving fields, so a crud is spelled the
//! same on every route.

use chrono::{DateTime, SecondsFormat, Utc};
use db::activity::{ActivityRow, CrudRow};
use db::users::{ProfileRow, UserPageRow, UserShortRow};
use serde::{Serialize, Serializer};
use utoipa::ToSchema;
use uuid::Uuid;

/// A crud (or a reply) as every route shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Activity {
    pub uuid: Uuid,
    pub display_name: String,
    pub handle: String,
    pub message: String,
    pub replies_count: i32,
    pub reposts_count: i32,
    pub likes_count: i32,
    /// The crud replied to; `null` for a top-level crud (always present).
    #[schema(required = true)]
    pub reply_to_activity_uuid: Option<Uuid>,
    /// RFC 3339 with offset, e.g. `2026-11-25T09:41:37.123450+00:00`.
    #[serde(serialize_with = "timestamp_opt")]
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub expires_at: Option<DateTime<Utc>>,
    /// RFC 3339 with offset, e.g. `2026-11-25T09:41:37.123450+00:00`.
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<ActivityRow> for Activity {
    // No `..`: a column added to the view is a decision here, not a silent omission.
    fn from(row: ActivityRow) -> Self {
        let ActivityRow {
            uuid,
            user_uuid: _,
            display_name,
            handle,
            message,
            replies_count,
            reposts_count,
            likes_count,
            reply_to_activity_uuid,
            expires_at,
            created_at,
        } = row;
        Self {
            uuid,
            display_name,
            handle,
            message,
            replies_count,
            reposts_count,
            likes_count,
            reply_to_activity_uuid,
            expires_at,
            created_at,
        }
    }
}

/// A crud with its replies (oldest first): a feed or user-page item, a created crud or reply
/// (`replies` empty), and, spelled as [`StatusPage`], the status page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FeedItem {
    #[serde(flatten)]
    pub activity: Activity,
    pub replies: Vec<Activity>,
}

impl From<CrudRow> for FeedItem {
    fn from(row: CrudRow) -> Self {
        Self {
            activity: row.activity.into(),
            replies: row.replies.into_iter().map(Activity::from).collect(),
        }
    }
}

impl FeedItem {
    /// The status page's spelling of this item: `{"activity": {…}, "replies": […]}`.
    pub fn as_status_page(&self) -> impl Serialize + '_ {
        #[derive(Serialize)]
        struct Nested<'a> {
            activity: &'a Activity,
            replies: &'a [Activity],
        }
        Nested {
            activity: &self.activity,
            replies: &self.replies,
        }
    }
}

/// Feed items of `rows`, in order.
pub fn feed(rows: Vec<CrudRow>) -> Vec<FeedItem> {
    rows.into_iter().map(FeedItem::from).collect()
}

/// `GET /api/activities/@{handle}/status/{uuid}`: a crud and a page of its replies, oldest
/// first. Names the shape of [`FeedItem::as_status_page`] in the OpenAPI document; never built
/// (the shape tests check the route's bytes against it).
#[derive(Debug, ToSchema)]
pub struct StatusPage {
    pub activity: Activity,
    pub replies: Vec<Activity>,
}

/// `{uuid, handle, display_name}` of a user (the frontend's user cards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserShort {
    pub uuid: Uuid,
    pub handle: String,
    pub display_name: String,
}

impl From<UserShortRow> for UserShort {
    fn from(row: UserShortRow) -> Self {
        Self {
            uuid: row.uuid,
            handle: row.handle,
            display_name: row.display_name,
        }
    }
}

/// A user's public profile, as the top of their page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Profile {
    pub uuid: Uuid,
    pub handle: String,
    pub display_name: String,
    /// `null` when the user wrote none (always present).
    #[schema(required = true)]
    pub bio: Option<String>,
    /// The user's unexpired cruds (replies not counted), counted up to
    /// `db::users::CRUDS_COUNT_CAP`: that value means "at least that many".
    pub cruds_count: i64,
}

impl From<ProfileRow> for Profile {
    fn from(row: ProfileRow) -> Self {
        Self {
            uuid: row.uuid,
            handle: row.handle,
            display_name: row.display_name,
            bio: row.bio,
            cruds_count: row.cruds_count,
        }
    }
}

/// `GET /api/activities/@{handle}`: the profile and the user's newest cruds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserPage {
    pub profile: Profile,
    pub activities: Vec<FeedItem>,
}

impl From<UserPageRow> for UserPage {
    fn from(row: UserPageRow) -> Self {
        Self {
            profile: row.profile.into(),
            activities: feed(row.activities),
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
