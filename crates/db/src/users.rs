//! Users: a user's page and the short form.

use uuid::Uuid;

use crate::error::DbError;
use crate::json::RawJson;
use crate::pool::{checkout, Pool};

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
