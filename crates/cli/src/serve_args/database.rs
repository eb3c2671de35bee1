//! The database flags of `serve` and `up`, turned into [`db::DatabaseConfig`].

use std::time::Duration;

use anyhow::Context;

use crate::target::{refuse_password_in_argv, Target};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DatabaseArgs {
    /// Most pooled database connections.
    #[arg(long, env = "DB_POOL_MAX_SIZE", default_value_t = db::pool::DEFAULT_POOL_MAX_SIZE)]
    pub db_pool_max_size: usize,
    /// How long a request waits for a pooled connection before answering 503.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_MS", default_value_t = db::pool::DEFAULT_ACQUIRE_TIMEOUT_MS)]
    pub db_acquire_timeout_ms: u64,
    /// Server-side cap on each statement (statement_timeout).
    #[arg(long, env = "DB_STATEMENT_TIMEOUT_MS", default_value_t = db::config::DEFAULT_STATEMENT_TIMEOUT_MS)]
    pub db_statement_timeout_ms: u64,
    /// A pooled connection older than this is closed rather than reused (DNS moves after an RDS
    /// failover, server restarts and leaky backends reach the pool within it).
    #[arg(long, env = "DB_MAX_CONNECTION_LIFETIME_SECS", default_value_t = db::pool::DEFAULT_MAX_LIFETIME_SECS)]
    pub db_max_connection_lifetime_secs: u64,
    /// Streaming standbys that serve reads (feed, user and status pages, short cards): one or
    /// more postgres:// URLs separated by spaces. Writes, and reads of one's own write, stay on
    /// the primary; a standby down or behind READ_MAX_LAG_MS is skipped.
    #[arg(
        long = "read-connection-url",
        env = "READ_CONNECTION_URL",
        hide_env_values = true,
        hide = true
    )]
    pub read_connection_url: Option<String>,
    /// A standby further behind the primary than this serves no reads (they go to the primary).
    #[arg(long, env = "READ_MAX_LAG_MS", default_value_t = db::reads::DEFAULT_READ_MAX_LAG_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub read_max_lag_ms: u64,
    /// What sits between cruddur and PostgreSQL: `none` (or a session-mode pooler) or
    /// `transaction` (PgBouncer pool_mode=transaction, RDS Proxy): unnamed statements, no
    /// session settings (put statement_timeout on the role), and LISTEN plus `up`'s migrations
    /// on DIRECT_CONNECTION_URL.
    #[arg(long, env = "DB_POOLER", default_value = "none")]
    pub db_pooler: db::Pooler,
    /// The primary itself, not through the pooler: the feed cache's LISTEN and `up`'s
    /// migrations use it. Needed with DB_POOLER=transaction (without it the feed cache is off).
    #[arg(
        long = "direct-connection-url",
        env = "DIRECT_CONNECTION_URL",
        hide_env_values = true,
        hide = true
    )]
    pub direct_connection_url: Option<String>,
    /// New cruds written at once, each lane one statement; creates that arrive while every lane
    /// is busy are written together, with one commit.
    #[arg(long, env = "DB_CREATE_LANES", default_value_t = db::CreateQueueSettings::default().lanes)]
    pub db_create_lanes: usize,
}

impl DatabaseArgs {
    /// Refuses the URL options' values that came from the command line with a password.
    pub(crate) fn refuse_passwords_in_argv(&self) -> anyhow::Result<()> {
        refuse_password_in_argv(
            self.read_connection_url.as_deref(),
            "READ_CONNECTION_URL",
            "--read-connection-url",
        )?;
        refuse_password_in_argv(
            self.direct_connection_url.as_deref(),
            "DIRECT_CONNECTION_URL",
            "--direct-connection-url",
        )
    }

    /// The database section of the service's config, for `target` as the primary.
    pub(crate) fn config(&self, target: &Target) -> anyhow::Result<db::DatabaseConfig> {
        let direct = match self.db_pooler {
            db::Pooler::None => Some(target.settings.clone()),
            // Unset: the feed cache is off (the service says so); set but unusable: refused.
            db::Pooler::Transaction if self.direct_url().is_none() => None,
            db::Pooler::Transaction => Some(self.direct_target(target)?.settings),
        };
        Ok(db::DatabaseConfig {
            primary: target.settings.clone(),
            pool: db::PoolSettings {
                max_size: self.db_pool_max_size,
                acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms),
                statement_timeout: Duration::from_millis(self.db_statement_timeout_ms),
                max_lifetime: Duration::from_secs(self.db_max_connection_lifetime_secs),
                pooler: self.db_pooler,
            },
            standbys: self.standbys(target)?,
            read_max_lag: Duration::from_millis(self.read_max_lag_ms),
            direct,
            creates: db::CreateQueueSettings {
                lanes: self.db_create_lanes,
                ..db::CreateQueueSettings::default()
            },
        })
    }

    /// DIRECT_CONNECTION_URL as a target, required behind a transaction pooler.
    pub(crate) fn direct_target(&self, target: &Target) -> anyhow::Result<Target> {
        let Some(raw) = self.direct_url() else {
            anyhow::bail!(
                "DB_POOLER=transaction: migrations take a session advisory lock, which a transaction pooler does not keep; set DIRECT_CONNECTION_URL to the primary itself (not through the pooler)"
            );
        };
        let url = db::DatabaseUrl::new(raw);
        let settings =
            target.same_login(url.parse().context("DIRECT_CONNECTION_URL is not usable")?);
        Ok(Target {
            url,
            settings,
            source: "DIRECT_CONNECTION_URL",
            prod: target.prod,
            cluster: None,
        })
    }

    fn direct_url(&self) -> Option<&str> {
        self.direct_connection_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
    }

    /// The standbys of READ_CONNECTION_URL, logging in as the primary does.
    fn standbys(&self, target: &Target) -> anyhow::Result<Vec<db::ConnectSettings>> {
        let Some(raw) = self.read_connection_url.as_deref() else {
            return Ok(Vec::new());
        };
        raw.split_whitespace()
            .enumerate()
            .map(|(i, one)| {
                db::DatabaseUrl::new(one)
                    .parse()
                    .map(|settings| target.same_login(settings))
                    .with_context(|| format!("READ_CONNECTION_URL: URL {} is not usable", i + 1))
            })
            .collect()
    }
}
