//! Whether the database answers.

use crate::error::DbError;
use crate::pool::{checkout, Pool};
use crate::statement::PING;

/// Runs `SELECT 1` on a pooled connection.
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    let client = checkout(pool).await?;
    pool.statements_on(&client).query_one(&PING, &[]).await?;
    Ok(())
}
