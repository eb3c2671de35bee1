//! The connection pool (deadpool-postgres) and single admin connections. Every query of the
//! service is a [`crate::statement::Sql`], sent the way the pool's [`Pooler`] allows.

use std::fmt;
use std::time::Duration;

use deadpool::managed::{Hook, HookError, Metrics, RecycleError, RecycleResult};
use deadpool::Runtime;
use deadpool_postgres::ClientWrapper;
use tokio_postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{ConnectSettings, DEFAULT_STATEMENT_TIMEOUT_MS};
use crate::connect;
use crate::error::DbError;
use crate::statement::{learn_types, Statements};
use crate::tls;

pub use crate::statement::Pooler;

/// A connection checked out of a [`Pool`]; back in the pool when dropped.
pub type PooledClient = deadpool::managed::Object<ConnectionManager>;
/// The pool's own status counters.
pub type Status = deadpool::Status;
/// A checkout failure, before it becomes a [`DbError`].
pub type PoolError = deadpool::managed::PoolError<DbError>;

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
    /// What sits between us and PostgreSQL (see [`crate::statement`]).
    pub pooler: Pooler,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_POOL_MAX_SIZE,
            acquire_timeout: Duration::from_millis(DEFAULT_ACQUIRE_TIMEOUT_MS),
            statement_timeout: Duration::from_millis(DEFAULT_STATEMENT_TIMEOUT_MS),
            max_lifetime: Duration::from_secs(DEFAULT_MAX_LIFETIME_SECS),
            pooler: Pooler::None,
        }
    }
}

/// Opens the pool's connections through [`connect::open`] (so each takes its credentials
/// from the settings' provider) and checks a returned one is still open.
pub struct ConnectionManager {
    settings: ConnectSettings,
    tls: MakeRustlsConnect,
}

impl fmt::Debug for ConnectionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionManager")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl deadpool::managed::Manager for ConnectionManager {
    type Type = ClientWrapper;
    type Error = DbError;

    async fn create(&self) -> Result<ClientWrapper, DbError> {
        let (client, connection) = connect::open(&self.settings, &self.tls).await?;
        let task = tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "pooled connection closed with an error");
            }
        });
        Ok(ClientWrapper::new(client, task))
    }

    async fn recycle(&self, client: &mut ClientWrapper, _: &Metrics) -> RecycleResult<DbError> {
        // No round trip: a broken connection fails its next statement, which the callers
        // treat as unavailable (or resend, for creates).
        if client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        Ok(())
    }
}

/// Pooled connections to one server, and how statements reach it.
#[derive(Debug, Clone)]
pub struct Pool {
    inner: deadpool::managed::Pool<ConnectionManager>,
    pooler: Pooler,
}

impl Pool {
    /// Closes every idle connection and refuses new checkouts.
    pub fn close(&self) {
        self.inner.close();
    }

    pub fn status(&self) -> Status {
        self.inner.status()
    }

    pub fn pooler(&self) -> Pooler {
        self.pooler
    }

    /// A connection from the pool.
    pub async fn get(&self) -> Result<PooledClient, DbError> {
        Ok(self.inner.get().await?)
    }

    /// A new connection outside the pool, made as pooled ones are (for a resend that must not
    /// reuse a connection as dead as the one that just broke).
    pub async fn fresh_connection(&self) -> Result<ClientWrapper, DbError> {
        use deadpool::managed::Manager as _;
        let mut client = self.inner.manager().create().await?;
        if self.pooler == Pooler::Transaction {
            learn_types(&mut client).await?;
        }
        Ok(client)
    }

    /// Statements on `client`, a connection of this pool.
    pub fn statements_on<'a>(&self, client: &'a ClientWrapper) -> Statements<'a> {
        Statements::new(client, self.pooler)
    }
}

/// Builds a pool; no connection is opened until the first request needs one.
///
/// Behind a transaction pooler the session settings of
/// [`ConnectSettings::with_session_defaults`] cannot be sent (PgBouncer refuses the `options`
/// startup parameter, and a pooler would not keep them per client anyway): they belong on the
/// role there (`ALTER ROLE … SET statement_timeout = …`, see docs/scale.md), and each new
/// connection warns when `statement_timeout` is off.
pub fn build_pool(settings: &ConnectSettings, tuning: &PoolSettings) -> Result<Pool, DbError> {
    let connect = match tuning.pooler {
        Pooler::None => settings
            .clone()
            .with_session_defaults(tuning.statement_timeout),
        Pooler::Transaction => settings.clone(),
    }
    .with_dead_peer_detection(tuning.statement_timeout);
    let pooler = tuning.pooler;
    let max_lifetime = tuning.max_lifetime;
    let connect_timeout = connect::open_bound(&connect);
    let tls = tls::connector(connect.root_cert.as_deref())?;
    let manager = ConnectionManager {
        settings: connect,
        tls,
    };
    let builder = deadpool::managed::Pool::builder(manager)
        .max_size(tuning.max_size)
        .wait_timeout(Some(tuning.acquire_timeout))
        .create_timeout(Some(connect_timeout))
        .recycle_timeout(Some(Duration::from_secs(1)))
        .pre_recycle(Hook::sync_fn(move |_, metrics| {
            if metrics.age() >= max_lifetime {
                // The pool drops it and hands out (or opens) another.
                Err(HookError::message(
                    "connection reached its maximum lifetime",
                ))
            } else {
                Ok(())
            }
        }))
        .runtime(Runtime::Tokio1);
    let builder = match pooler {
        Pooler::None => builder,
        Pooler::Transaction => builder.post_create(Hook::async_fn(|client, _| {
            Box::pin(async move {
                learn_types(client)
                    .await
                    .map_err(|e| HookError::Backend(DbError::from(e)))?;
                warn_without_statement_timeout(client).await;
                Ok(())
            })
        })),
    };
    let inner = builder
        .build()
        .map_err(|e| DbError::unavailable(format!("cannot build the pool: {e}")))?;
    Ok(Pool { inner, pooler })
}

/// Behind a transaction pooler nothing of ours sets `statement_timeout`: say so when the
/// server's default leaves statements uncapped.
async fn warn_without_statement_timeout(client: &ClientWrapper) {
    let shown = client
        .query_typed_one("SELECT current_setting('statement_timeout')", &[])
        .await
        .and_then(|row| row.try_get::<_, String>(0));
    if let Ok(value) = shown {
        if value == "0" {
            tracing::warn!(
                "behind a transaction pooler, statements have no statement_timeout: set one on the role (ALTER ROLE … SET statement_timeout = '5s')"
            );
        }
    }
}

/// Takes a connection from the pool.
pub async fn checkout(pool: &Pool) -> Result<PooledClient, DbError> {
    pool.get().await
}

/// Opens one connection outside any pool (CLI admin commands, migrations), bounded in time even
/// when the peer accepts TCP but never answers.
pub async fn connect(settings: &ConnectSettings) -> Result<Client, DbError> {
    let tls = tls::connector(settings.root_cert.as_deref())?;
    let (client, connection) = connect::open(settings, &tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "admin connection closed with an error");
        }
    });
    Ok(client)
}
