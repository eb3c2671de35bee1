//! Users: a user's page and the short form.

use uuid::Uuid;

use crate::activity::CrudRow;
use crate::error::DbError;
use crate::pool::{checkout, Pool};
use crate::statement::{
    FIND_USER_BY_COGNITO_ID, FIND_USER_SHORT, HANDLE_TAKEN, INSERT_FROM_COGNITO, LINK_COGNITO_USER,
    LIST_AUTHORS, LIST_PLACEHOLDER_USERS, SHOW_USER_PAGE, UPDATE_PROFILE,
};

/// A user as Cognito confirmed them.
#[derive(Clone)]
pub struct NewCognitoUser<'a> {
    pub display_name: &'a str,
    pub email: &'a str,
    pub handle: &'a str,
    pub cognito_user_id: &'a str,
}

/// Personal data stays out of logs and panics: only the handle and the sub are shown.
impl std::fmt::Debug for NewCognitoUser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCognitoUser")
            .field("handle", &self.handle)
            .field("cognito_user_id", &self.cognito_user_id)
            .finish_non_exhaustive()
    }
}

/// What [`insert_from_cognito`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CognitoInsert {
    Inserted(Uuid),
    /// A user with this `cognito_user_id` already exists (the event was delivered again).
    AlreadyPresent,
    /// Another user holds the handle (regardless of case); nothing was written.
    HandleTaken,
}

/// Inserts a confirmed user; idempotent per `cognito_user_id`, also when the same confirmation
/// arrives twice at once.
pub async fn insert_from_cognito(
    pool: &Pool,
    user: &NewCognitoUser<'_>,
) -> Result<CognitoInsert, DbError> {
    let client = checkout(pool).await?;
    let row = pool
        .statements_on(&client)
        .query_opt(
            &INSERT_FROM_COGNITO,
            &[
                &user.display_name,
                &user.email,
                &user.handle,
                &user.cognito_user_id,
            ],
        )
        .await?;
    if let Some(row) = row {
        return Ok(CognitoInsert::Inserted(row.try_get("uuid")?));
    }
    // A second statement, so a new snapshot: it sees a concurrent delivery's committed row.
    let present = pool
        .statements_on(&client)
        .query_opt(&FIND_USER_BY_COGNITO_ID, &[&user.cognito_user_id])
        .await?;
    Ok(if present.is_some() {
        CognitoInsert::AlreadyPresent
    } else {
        CognitoInsert::HandleTaken
    })
}

/// `{uuid, handle, display_name}` of a user (the frontend's user cards).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserShortRow {
    pub uuid: Uuid,
    pub handle: String,
    pub display_name: String,
}

/// A user's public profile, as the top of their page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRow {
    pub uuid: Uuid,
    pub handle: String,
    pub display_name: String,
    /// `null` when the user wrote none (always present).
    pub bio: Option<String>,
    /// The user's unexpired cruds (replies not counted), counted up to [`CRUDS_COUNT_CAP`]:
    /// that value means "at least that many".
    pub cruds_count: i64,
}

/// Most cruds a user page counts (show_user_page.sql's LIMIT): a view costs at most this many
/// rows, not the user's whole history.
pub const CRUDS_COUNT_CAP: i64 = 1_000;

/// `GET /api/activities/@{handle}`: the profile and the user's newest cruds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPageRow {
    pub profile: ProfileRow,
    pub activities: Vec<CrudRow>,
}

/// The page of `handle` with at most `limit` cruds, each with its newest `replies` replies;
/// `None` when no such user exists.
pub async fn show_user_page(
    pool: &Pool,
    handle: &str,
    limit: i64,
    replies: i64,
) -> Result<Option<UserPageRow>, DbError> {
    let client = checkout(pool).await?;
    let rows = pool
        .statements_on(&client)
        .query(&SHOW_USER_PAGE, &[&handle, &limit, &replies])
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let profile = ProfileRow {
        uuid: first.try_get("uuid")?,
        handle: first.try_get("handle")?,
        display_name: first.try_get("display_name")?,
        bio: first.try_get("bio")?,
        cruds_count: first.try_get("cruds_count")?,
    };
    let mut activities = Vec::with_capacity(rows.len());
    for row in &rows {
        activities.extend(CrudRow::from_optional_row(row)?);
    }
    Ok(Some(UserPageRow {
        profile,
        activities,
    }))
}

pub async fn find_user_short(pool: &Pool, handle: &str) -> Result<Option<UserShortRow>, DbError> {
    let client = checkout(pool).await?;
    let row = pool
        .statements_on(&client)
        .query_opt(&FIND_USER_SHORT, &[&handle])
        .await?;
    row.map(|r| user_short(&r)).transpose()
}

/// Up to `limit` users by handle: who the web page's dev-mode author picker offers.
pub async fn list_authors(pool: &Pool, limit: i64) -> Result<Vec<UserShortRow>, DbError> {
    let client = checkout(pool).await?;
    let rows = pool
        .statements_on(&client)
        .query(&LIST_AUTHORS, &[&limit])
        .await?;
    rows.iter().map(user_short).collect()
}

/// The user a verified Cognito token speaks for (`cognito_user_id = sub`); `None` when no row
/// was ever recorded for them.
pub async fn find_user_by_cognito_id(
    pool: &Pool,
    sub: &str,
) -> Result<Option<UserShortRow>, DbError> {
    let client = checkout(pool).await?;
    let row = pool
        .statements_on(&client)
        .query_opt(&FIND_USER_BY_COGNITO_ID, &[&sub])
        .await?;
    row.map(|r| user_short(&r)).transpose()
}

/// Sets the display name and bio of `handle`; the updated short form, `None` for no such user.
pub async fn update_profile(
    pool: &Pool,
    handle: &str,
    profile: &domain::ProfileUpdate,
) -> Result<Option<UserShortRow>, DbError> {
    let client = checkout(pool).await?;
    let row = pool
        .statements_on(&client)
        .query_opt(
            &UPDATE_PROFILE,
            &[
                &handle,
                &profile.display_name.as_str(),
                &profile.bio.as_deref(),
            ],
        )
        .await?;
    row.map(|r| user_short(&r)).transpose()
}

pub(crate) fn user_short(row: &tokio_postgres::Row) -> Result<UserShortRow, DbError> {
    Ok(UserShortRow {
        uuid: row.try_get("uuid")?,
        handle: row.try_get("handle")?,
        display_name: row.try_get("display_name")?,
    })
}

/// Whether `handle` is held by anyone, regardless of case (the pre-sign-up check).
pub async fn handle_taken(pool: &Pool, handle: &str) -> Result<bool, DbError> {
    let client = checkout(pool).await?;
    let row = pool
        .statements_on(&client)
        .query_one(&HANDLE_TAKEN, &[&handle])
        .await?;
    Ok(row.try_get("taken")?)
}

/// A user whose `cognito_user_id` is still a placeholder (`MOCK-…`).
#[derive(Clone)]
pub struct PlaceholderUser {
    pub uuid: Uuid,
    pub handle: String,
    pub email: String,
}

/// The email stays out of logs and panics.
impl std::fmt::Debug for PlaceholderUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaceholderUser")
            .field("uuid", &self.uuid)
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// Users still carrying a placeholder `cognito_user_id`, by handle.
pub async fn list_placeholder_users(pool: &Pool) -> Result<Vec<PlaceholderUser>, DbError> {
    let client = checkout(pool).await?;
    pool.statements_on(&client)
        .query(&LIST_PLACEHOLDER_USERS, &[])
        .await?
        .iter()
        .map(|r| {
            Ok(PlaceholderUser {
                uuid: r.try_get("uuid")?,
                handle: r.try_get("handle")?,
                email: r.try_get("email")?,
            })
        })
        .collect()
}

/// Gives user `uuid` its real Cognito `sub`; `false` when it no longer had a placeholder.
pub async fn link_cognito_user(pool: &Pool, uuid: Uuid, sub: &str) -> Result<bool, DbError> {
    let client = checkout(pool).await?;
    Ok(pool
        .statements_on(&client)
        .query_opt(&LINK_COGNITO_USER, &[&uuid, &sub])
        .await?
        .is_some())
}
