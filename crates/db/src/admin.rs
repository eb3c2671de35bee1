//! Database administration for the CLI: create, drop, sessions, row counts. Identifiers are
//! quoted by Postgres (`format('%I')`), never spliced by us.

use tokio_postgres::Client;

use crate::error::DbError;

/// One row of `pg_stat_activity`.
#[derive(Debug, Clone)]
pub struct Session {
    pub pid: i32,
    pub user: Option<String>,
    pub db: Option<String>,
    pub client: Option<String>,
    pub app: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowCounts {
    pub users: i64,
    pub activities: i64,
}

/// What [`drop_database`] did.
#[derive(Debug)]
pub enum DropOutcome {
    Dropped,
    DidNotExist,
    /// Not dropped: these sessions are connected and `force` was not given.
    SessionsOpen(Vec<Session>),
}

pub async fn database_exists(client: &Client, name: &str) -> Result<bool, DbError> {
    let row = client
        .query_one(include_str!("../sql/admin/database_exists.sql"), &[&name])
        .await?;
    Ok(row.get(0))
}

/// Creates the database; `Ok(false)` when it already existed.
pub async fn create_database(client: &Client, name: &str) -> Result<bool, DbError> {
    if database_exists(client, name).await? {
        return Ok(false);
    }
    let statement: String = client
        .query_one(include_str!("../sql/admin/create_database.sql"), &[&name])
        .await?
        .get(0);
    client.batch_execute(&statement).await?;
    Ok(true)
}

/// Drops the database. Without `force`, open sessions prevent it and are returned.
pub async fn drop_database(
    client: &Client,
    name: &str,
    force: bool,
) -> Result<DropOutcome, DbError> {
    if !database_exists(client, name).await? {
        return Ok(DropOutcome::DidNotExist);
    }
    if !force {
        let open = list_sessions(client, Some(name)).await?;
        if !open.is_empty() {
            return Ok(DropOutcome::SessionsOpen(open));
        }
    }
    let statement: String = client
        .query_one(
            include_str!("../sql/admin/drop_database.sql"),
            &[&name, &force],
        )
        .await?
        .get(0);
    client.batch_execute(&statement).await?;
    Ok(DropOutcome::Dropped)
}

/// Client sessions other than ours, on one database or all.
pub async fn list_sessions(client: &Client, db: Option<&str>) -> Result<Vec<Session>, DbError> {
    let rows = client
        .query(include_str!("../sql/admin/list_sessions.sql"), &[&db])
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| Session {
            pid: r.get("pid"),
            user: r.get("user"),
            db: r.get("db"),
            client: r.get("client"),
            app: r.get("app"),
            state: r.get("state"),
        })
        .collect())
}

/// Terminates every other session on the database; returns how many were ended.
pub async fn kill_sessions(client: &Client, db: &str) -> Result<usize, DbError> {
    let rows = client
        .query(include_str!("../sql/admin/kill_sessions.sql"), &[&db])
        .await?;
    Ok(rows
        .iter()
        .filter(|r| r.get::<_, bool>("terminated"))
        .count())
}

/// Row counts, or `None` before the schema exists.
pub async fn count_rows(client: &Client) -> Result<Option<RowCounts>, DbError> {
    let exists: bool = client
        .query_one(include_str!("../sql/admin/schema_exists.sql"), &[])
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client
        .query_one(include_str!("../sql/admin/count_rows.sql"), &[])
        .await?;
    Ok(Some(RowCounts {
        users: row.get("users"),
        activities: row.get("activities"),
    }))
}

/// Handles that break the handle rule (written before migration V3, which never changes them).
pub async fn nonconforming_handles(client: &Client) -> Result<Vec<String>, DbError> {
    let max_chars = i32::try_from(domain::MAX_HANDLE_CHARS).unwrap_or(i32::MAX);
    Ok(client
        .query(
            include_str!("../sql/admin/nonconforming_handles.sql"),
            &[&domain::HANDLE_PATTERN, &max_chars],
        )
        .await?
        .iter()
        .map(|r| r.get("handle"))
        .collect())
}

/// A standby streaming from a server, as that server reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Replication {
    /// Its `application_name` (RDS: the replica's), else its address.
    pub name: String,
    /// `streaming`, `catchup`, …
    pub state: String,
    /// How long its replay trails the primary; `None` when nothing is left to replay.
    pub replay_lag_ms: Option<f64>,
    pub unreplayed_bytes: Option<i64>,
}

/// The standbys streaming from the server `client` is connected to.
pub async fn replication(client: &Client) -> Result<Vec<Replication>, DbError> {
    let rows = client
        .query(include_str!("../sql/admin/replication.sql"), &[])
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Replication {
                name: r.try_get("name")?,
                state: r.try_get("state")?,
                replay_lag_ms: r.try_get("replay_lag_ms")?,
                unreplayed_bytes: r.try_get("unreplayed_bytes")?,
            })
        })
        .collect()
}

/// What a standby says of its own replay.
#[derive(Debug, Clone, PartialEq)]
pub struct StandbyReplay {
    pub in_recovery: bool,
    pub replayed: Option<String>,
    /// Seconds since the last replayed commit (it grows on an idle primary too).
    pub since_last_commit_secs: Option<f64>,
    /// The WAL receiver's status (`streaming`, …), `None` when none runs.
    pub receiver: Option<String>,
}

/// The replay state of the server `client` is connected to (a standby, or not in recovery).
pub async fn standby_replay(client: &Client) -> Result<StandbyReplay, DbError> {
    let row = client
        .query_one(include_str!("../sql/admin/standby_replay.sql"), &[])
        .await?;
    Ok(StandbyReplay {
        in_recovery: row.try_get("in_recovery")?,
        replayed: row.try_get("replayed")?,
        since_last_commit_secs: row.try_get("since_last_commit_secs")?,
        receiver: row.try_get("receiver")?,
    })
}
