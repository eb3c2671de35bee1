//! Users: a user's page and the short form.

use uuid::Uuid;

use crate::error::DbError;
use crate::json::RawJson;
use crate::pool::{checkout, Pool};

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
}

/// Inserts a confirmed user; idempotent per `cognito_user_id`. A handle held by another user is
/// `DbError::Conflict { constraint: "users_handle_key" }`.
pub async fn insert_from_cognito(
    pool: &Pool,
    user: &NewCognitoUser<'_>,
) -> Result<CognitoInsert, DbError> {
    let client = checkout(pool).await?;
    let statement = client
        .prepare_cached(include_str!("../sql/users/insert_from_cognito.sql"))
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[
                &user.display_name,
                &user.email,
                &user.handle,
                &user.cognito_user_id,
            ],
        )
        .await?;
    Ok(match row {
        Some(row) => CognitoInsert::Inserted(row.try_get(0)?),
        None => CognitoInsert::AlreadyPresent,
    })
}

/// `{uuid, handle, display_name}` of a user.
#[derive(Debug, Clone)]
pub struct UserShort {
    pub uuid: Uuid,
    pub handle: String,
    pub display_name: String,
}

/// `{"profile": …, "activities": […]}` for `handle`, built by Postgres; `None` when unknown.
pub async fn show_user_page(
    pool: &Pool,
    handle: &str,
    limit: i64,
) -> Result<Option<RawJson>, DbError> {
    let client = checkout(pool).await?;
    let statement = client
        .prepare_cached(include_str!("../sql/users/show_user_page.sql"))
        .await?;
    let row = client.query_opt(&statement, &[&handle, &limit]).await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

pub async fn find_user_short(pool: &Pool, handle: &str) -> Result<Option<UserShort>, DbError> {
    let client = checkout(pool).await?;
    let statement = client
        .prepare_cached(include_str!("../sql/users/find_user_short.sql"))
        .await?;
    let row = client.query_opt(&statement, &[&handle]).await?;
    row.map(|r| {
        Ok(UserShort {
            uuid: r.try_get(0)?,
            handle: r.try_get(1)?,
            display_name: r.try_get(2)?,
        })
    })
    .transpose()
}
