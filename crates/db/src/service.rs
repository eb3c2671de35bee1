//! The database section of the service's configuration, and what it starts: the primary's
//! pool, the standbys that serve reads, the create queue, and the settings of the one session
//! the feed cache listens on. The HTTP service (`api::App`) builds these here and nowhere else.

use std::time::Duration;

use crate::config::ConnectSettings;
use crate::create_queue::{CreateQueue, CreateQueueSettings};
use crate::error::DbError;
use crate::pool::{build_pool, Pool, PoolSettings, Pooler};
use crate::reads::{Reads, DEFAULT_READ_MAX_LAG_MS};

/// Where the service's data is and how it is reached.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// The primary, as the pool reaches it (possibly through a transaction pooler).
    pub primary: ConnectSettings,
    pub pool: PoolSettings,
    /// Streaming standbys that serve reads while they are within `read_max_lag`.
    pub standbys: Vec<ConnectSettings>,
    pub read_max_lag: Duration,
    /// The primary itself, not through a transaction pooler: `LISTEN` needs a session of its
    /// own. `None`: there is none, and whatever needs one (the feed cache) is off.
    pub direct: Option<ConnectSettings>,
    pub creates: CreateQueueSettings,
}

impl DatabaseConfig {
    /// The primary at `primary`, reached directly, with every default: no standbys, no pooler.
    pub fn direct(primary: ConnectSettings) -> Self {
        Self {
            direct: Some(primary.clone()),
            primary,
            pool: PoolSettings::default(),
            standbys: Vec::new(),
            read_max_lag: Duration::from_millis(DEFAULT_READ_MAX_LAG_MS),
            creates: CreateQueueSettings::default(),
        }
    }

    /// Opens what the service needs on the current tokio runtime. No connection is made yet
    /// (pools connect on first use); the standbys' watchers start.
    pub fn start(&self) -> Result<Database, DbError> {
        let pool = build_pool(&self.primary, &self.pool)?;
        let reads = Reads::start(
            pool.clone(),
            &self.primary,
            &self.standbys,
            &self.pool,
            self.read_max_lag,
        )?;
        let creates = CreateQueue::start(pool.clone(), self.creates);
        // A listening session must notice a vanished peer: it sends nothing while it waits.
        let listen = self
            .direct
            .clone()
            .map(|direct| direct.with_dead_peer_detection(self.pool.statement_timeout));
        Ok(Database {
            pool,
            reads,
            creates,
            listen,
        })
    }

    /// What sits between the pool and PostgreSQL.
    pub fn pooler(&self) -> Pooler {
        self.pool.pooler
    }
}

/// The started database side of the service; cheap to clone.
#[derive(Debug, Clone)]
pub struct Database {
    /// The primary: writes, and reads that must see the caller's own write.
    pub pool: Pool,
    /// Reads that may come from a standby.
    pub reads: Reads,
    /// New cruds: concurrent creates share a statement and a commit.
    pub creates: CreateQueue,
    /// Settings of a session of its own on the primary, for `LISTEN`; `None` behind a
    /// transaction pooler without a direct URL.
    pub listen: Option<ConnectSettings>,
}

impl Database {
    /// Stops the standbys' watchers and closes every pool.
    pub fn close(&self) {
        self.reads.close();
    }
}
