//! Versioned schema migrations (files in `crates/db/migrations/`, embedded at build time).
//! Each file runs in its own transaction with its history row; runs are serialised across
//! processes by an advisory lock so two `cruddur up` never migrate at once.

use domain::error_chain;
use refinery::{Migration, Runner};
use tokio_postgres::Client;

use crate::error::DbError;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Advisory-lock key held while migrating ("cruddur" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x0063_7275_6464_7572;

/// One migration file and whether it has been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    pub version: i32,
    pub name: String,
    pub applied_on: Option<String>,
}

/// The migrations compiled into this binary, in order.
pub fn all() -> Vec<Migration> {
    let mut migrations = embedded::migrations::runner().get_migrations().clone();
    // Embedded in file-name order, where V10 comes before V2.
    migrations.sort_by_key(Migration::version);
    migrations
}

/// Applies every pending migration; returns the names of those applied now.
pub async fn migrate(client: &mut Client) -> Result<Vec<String>, DbError> {
    migrate_with(client, &all()).await
}

/// Applies the given migrations (tests pass their own list). Stops at the first failure, naming
/// the file; that file leaves no trace.
pub async fn migrate_with(
    client: &mut Client,
    migrations: &[Migration],
) -> Result<Vec<String>, DbError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let outcome = Runner::new(migrations)
        .set_grouped(false)
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run_async(client)
        .await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    let report = outcome.map_err(|e| DbError::Migration(error_chain(&e)))?;
    unlocked?;
    let applied: Vec<String> = report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect();
    for name in &applied {
        tracing::info!(migration = %name, "migration applied");
    }
    Ok(applied)
}

/// Applied and pending migrations, without creating anything in the database.
pub async fn status(client: &Client) -> Result<Vec<MigrationState>, DbError> {
    let exists: bool = client
        .query_one(include_str!("../sql/migrations/history_exists.sql"), &[])
        .await?
        .get(0);
    let applied = if exists {
        client
            .query(
                include_str!("../sql/migrations/list_applied_migrations.sql"),
                &[],
            )
            .await?
            .into_iter()
            .map(|row| (row.get::<_, i32>(0), row.get::<_, String>(2)))
            .collect()
    } else {
        Vec::new()
    };
    Ok(all()
        .into_iter()
        .map(|m| MigrationState {
            version: m.version(),
            name: m.name().to_owned(),
            applied_on: applied
                .iter()
                .find(|(v, _)| *v == m.version())
                .map(|(_, on)| on.clone()),
        })
        .collect())
}
