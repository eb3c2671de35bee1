//! Whether the database answers.

use crate::error::DbError;
use crate::pool::{checkout, Pool};

/// Runs `SELECT 1` on a pooled connection.
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    let client = checkout(pool).await?;
    let statement = client
        .prepare_cached(include_str!("../sql/health/ping.sql"))
        .await?;
    client.query_one(&statement, &[]).await?;
    Ok(())
}
