//! The connection pool (deadpool-postgres) and single admin connections. Every query of the
//! service goes through `prepare_cached`, so each pooled connection parses a statement once.

use std::time::Duration;

use deadpool_postgres::{HookError, Manager, ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::Client;

use crate::config::{ConnectSettings, DEFAULT_STATEMENT_TIMEOUT_MS};
use crate::error::DbError;
use crate::tls;

pub use deadpool_postgres::{Object as PooledClient, Pool};

/// Most connections one server process keeps open.
pub const DEFAULT_POOL_MAX_SIZE: usize = 16;
/// How long a request waits for a free connection before the database counts as unavailable.
pub const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 2_000;
/// A pooled connection older than this is closed instead of reused: DNS changes (an RDS
/// failover moves the endpoint), a restarted server's new settings and a leaky backend's memory
/// all reach the pool within this time.
pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 30 * 60;

/// Tunables of [`build_pool`].
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_size: usize,
    pub acquire_timeout: Duration,
    pub statement_timeout: Duration,
    pub max_lifetime: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_POOL_MAX_SIZE,
            acquire_timeout: Duration::from_millis(DEFAULT_ACQUIRE_TIMEOUT_MS),
            statement_timeout: Duration::from_millis(DEFAULT_STATEMENT_TIMEOUT_MS),
            max_lifetime: Duration::from_secs(DEFAULT_MAX_LIFETIME_SECS),
        }
    }
}

/// Builds a pool; no connection is opened until the first request needs one.
pub fn build_pool(settings: &ConnectSettings, tuning: &PoolSettings) -> Result<Pool, DbError> {
    let connect = settings
        .clone()
        .with_session_defaults(tuning.statement_timeout)
        .with_dead_peer_detection(tuning.statement_timeout);
    let max_lifetime = tuning.max_lifetime;
    let connect_timeout = connect_bound(&connect);
    let tls = tls::connector(connect.root_cert.as_deref())?;
    let manager = Manager::from_config(
        connect.pg,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(tuning.max_size)
        .wait_timeout(Some(tuning.acquire_timeout))
        .create_timeout(Some(connect_timeout))
        .recycle_timeout(Some(Duration::from_secs(1)))
        .pre_recycle(deadpool_postgres::Hook::sync_fn(move |_, metrics| {
            if metrics.age() >= max_lifetime {
                // The pool drops it and hands out (or opens) another.
                Err(HookError::message(
                    "connection reached its maximum lifetime",
                ))
            } else {
                Ok(())
            }
        }))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::unavailable(format!("cannot build the pool: {e}")))
}

/// Takes a connection from the pool.
pub async fn checkout(pool: &Pool) -> Result<PooledClient, DbError> {
    Ok(pool.get().await?)
}

/// Opens one connection outside any pool (CLI admin commands, migrations), bounded in time even
/// when the peer accepts TCP but never answers.
pub async fn connect(settings: &ConnectSettings) -> Result<Client, DbError> {
    let tls = tls::connector(settings.root_cert.as_deref())?;
    let bound = connect_bound(settings);
    let (client, connection) = tokio::time::timeout(bound, settings.pg.connect(tls))
        .await
        .map_err(|_| {
            DbError::unavailable(format!(
                "no answer from the server within {} s",
                bound.as_secs()
            ))
        })??;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "admin connection closed with an error");
        }
    });
    Ok(client)
}

fn connect_bound(settings: &ConnectSettings) -> Duration {
    let tcp = settings
        .pg
        .get_connect_timeout()
        .copied()
        .unwrap_or(Duration::from_secs(
            crate::config::DEFAULT_CONNECT_TIMEOUT_SECS,
        ));
    // The TCP timeout does not cover the startup exchange; allow a little for it.
    tcp + Duration::from_secs(1)
}
