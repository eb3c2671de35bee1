//! Seed data: the seed document's users and crud (idempotent), and generated demo cruds for
//! benchmarks, loaded set-based in one statement per table.

use tokio_postgres::Client;

use crate::error::DbError;

/// Upper bound on generated demo authors, whatever the number of cruds.
pub const MAX_DEMO_USERS: i32 = 1_000;

/// Rows added by a seed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SeedReport {
    pub users: u64,
    pub activities: u64,
}

/// Loads the seed document's users and crud; running it again adds nothing.
pub async fn seed(client: &mut Client) -> Result<SeedReport, DbError> {
    let tx = client.transaction().await?;
    let users = tx
        .execute(include_str!("../seeds/seed_users.sql"), &[])
        .await?;
    let activities = tx
        .execute(include_str!("../seeds/seed_activities.sql"), &[])
        .await?;
    tx.commit().await?;
    Ok(SeedReport { users, activities })
}

/// Adds `cruds` generated cruds spread over up to [`MAX_DEMO_USERS`] demo authors.
pub async fn seed_demo(client: &mut Client, cruds: u64) -> Result<SeedReport, DbError> {
    let cruds_param = i64::try_from(cruds).unwrap_or(i64::MAX);
    let authors = demo_author_count(cruds);
    let tx = client.transaction().await?;
    let users = tx
        .execute(include_str!("../seeds/seed_demo_users.sql"), &[&authors])
        .await?;
    let activities = tx
        .execute(
            include_str!("../seeds/seed_demo_activities.sql"),
            &[&cruds_param],
        )
        .await?;
    tx.commit().await?;
    // Fresh statistics keep the planner on the feed indexes right after a bulk load.
    client
        .batch_execute("ANALYZE users; ANALYZE activities")
        .await?;
    Ok(SeedReport { users, activities })
}

/// One author per 1,000 cruds, at least 10 and at most [`MAX_DEMO_USERS`].
fn demo_author_count(cruds: u64) -> i32 {
    let wanted = i32::try_from(cruds / 1_000).unwrap_or(MAX_DEMO_USERS);
    wanted.clamp(10, MAX_DEMO_USERS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_authors_scale_with_cruds_within_bounds() {
        assert_eq!(demo_author_count(0), 10);
        assert_eq!(demo_author_count(50_000), 50);
        assert_eq!(demo_author_count(1_000_000), MAX_DEMO_USERS);
        assert_eq!(demo_author_count(u64::MAX), MAX_DEMO_USERS);
    }
}
