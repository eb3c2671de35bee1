//! Reads on streaming standbys (`READ_CONNECTION_URL`), with the primary as the fallback.
//!
//! A standby serves a read only while it is known to be at most `max_lag` behind. That is
//! measured without a query per request: a watcher task reads the primary's flushed WAL
//! position (`pg_current_wal_flush_lsn()`) every `max_lag / 4`, then asks each standby whether
//! it has replayed that far (`pg_last_wal_replay_lsn()`). When it has, everything the primary
//! had committed when the watcher asked is on the standby, so the standby is stale by at most
//! the time since that question — an upper bound that holds whether the primary is busy or idle
//! (`now() - pg_last_xact_replay_timestamp()` grows on an idle primary though nothing is
//! missing, and says nothing about what is not yet replayed). A standby that is down, not in
//! recovery (promoted: it no longer follows this primary), or stale past `max_lag` is skipped.
//!
//! A read that fails on a standby is run again on the primary, so a standby dying between two
//! checks costs latency, never an error. Reads that must see a given moment's commits (the feed
//! cache rebuilding after a notification) pass that moment: a standby serves them only once its
//! latest proof of catching up was asked after it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use crate::config::ConnectSettings;
use crate::error::DbError;
use crate::pool::{build_pool, Pool, PoolSettings};

/// How far behind the primary a standby may be and still serve reads.
pub const DEFAULT_READ_MAX_LAG_MS: u64 = 1_000;
/// The watcher's `application_name`, to tell it apart in `pg_stat_activity`.
pub const WATCHER_APPLICATION_NAME: &str = "cruddur replication watch";
/// Longest one check of one server may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// Where reads go: standbys when fresh enough, else the primary. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Reads {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    primary: Pool,
    standbys: Vec<Standby>,
    next: AtomicUsize,
    max_lag: Duration,
    epoch: Instant,
    on_standby: AtomicU64,
    on_primary: AtomicU64,
    _watcher: Option<Watcher>,
}

#[derive(Debug)]
struct Standby {
    label: String,
    pool: Pool,
    state: Arc<StandbyState>,
}

/// What the watcher last learnt about one standby.
#[derive(Debug, Default)]
struct StandbyState {
    up: AtomicBool,
    /// When the watcher asked the primary for a position this standby then had replayed, in
    /// nanoseconds after `epoch`, plus one; 0: never.
    caught_up: AtomicU64,
}

#[derive(Debug)]
struct Watcher(JoinHandle<()>);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What [`Reads::standbys`] tells about one standby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandbyReport {
    /// `host:port` (never the URL: it may hold a password).
    pub label: String,
    pub up: bool,
    /// At most this far behind, when known.
    pub behind_at_most: Option<Duration>,
    /// Whether reads would go to it now.
    pub serving: bool,
}

impl Reads {
    /// Every read on the primary.
    pub fn primary_only(primary: Pool) -> Self {
        Self::assemble(primary, Vec::new(), Duration::ZERO, None, Instant::now())
    }

    /// Reads on `standbys` (each its own pool, tuned as the primary's) while they are at most
    /// `max_lag` behind `primary`; starts the watcher on the current tokio runtime.
    pub fn start(
        primary: Pool,
        primary_settings: &ConnectSettings,
        standbys: &[ConnectSettings],
        tuning: &PoolSettings,
        max_lag: Duration,
    ) -> Result<Self, DbError> {
        if standbys.is_empty() {
            return Ok(Self::primary_only(primary));
        }
        let mut built = Vec::with_capacity(standbys.len());
        let mut watched = Vec::with_capacity(standbys.len());
        for settings in standbys {
            let state = Arc::new(StandbyState::default());
            let label = settings.host_label();
            built.push(Standby {
                label: label.clone(),
                pool: build_pool(settings, tuning)?,
                state: Arc::clone(&state),
            });
            watched.push(Watched {
                label,
                settings: watcher_settings(settings),
                state,
                client: None,
            });
        }
        let epoch = Instant::now();
        let every = (max_lag / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
        let task = tokio::spawn(watch(
            watcher_settings(primary_settings),
            watched,
            every,
            epoch,
        ));
        Ok(Self::assemble(
            primary,
            built,
            max_lag,
            Some(Watcher(task)),
            epoch,
        ))
    }

    fn assemble(
        primary: Pool,
        standbys: Vec<Standby>,
        max_lag: Duration,
        watcher: Option<Watcher>,
        epoch: Instant,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                primary,
                standbys,
                next: AtomicUsize::new(0),
                max_lag,
                epoch,
                on_standby: AtomicU64::new(0),
                on_primary: AtomicU64::new(0),
                _watcher: watcher,
            }),
        }
    }

    /// The primary: writes, and reads that must see the caller's own write.
    pub fn primary(&self) -> &Pool {
        &self.inner.primary
    }

    /// Runs `read` on a standby fresh enough to serve it, else on the primary; a read that
    /// fails on a standby runs again on the primary. With `fresh_since`, only a standby proven
    /// to hold everything the primary had committed at that moment may serve it.
    ///
    /// `read` gets the pool by value (a cheap handle) so that its future borrows nothing from
    /// this call and stays `Send` for axum.
    pub async fn read<T, F, Fut>(&self, fresh_since: Option<Instant>, read: F) -> Result<T, DbError>
    where
        F: Fn(Pool) -> Fut,
        Fut: std::future::Future<Output = Result<T, DbError>>,
    {
        if let Some(standby) = self.pick(fresh_since) {
            match read(standby.pool.clone()).await {
                Ok(value) => {
                    self.inner.on_standby.fetch_add(1, Ordering::Relaxed);
                    return Ok(value);
                }
                // The value itself was refused: the primary would refuse it too.
                Err(e @ DbError::InvalidValue { .. }) => return Err(e),
                Err(e) => {
                    if e.is_unavailable() {
                        standby.state.up.store(false, Ordering::SeqCst);
                    }
                    tracing::warn!(standby = %standby.label, error = %e,
                        "a read failed on a standby; reading from the primary");
                }
            }
        }
        self.inner.on_primary.fetch_add(1, Ordering::Relaxed);
        read(self.inner.primary.clone()).await
    }

    /// Reads served by a standby so far (for tests and metrics).
    pub fn reads_on_standbys(&self) -> u64 {
        self.inner.on_standby.load(Ordering::Relaxed)
    }

    /// Reads served by the primary so far.
    pub fn reads_on_primary(&self) -> u64 {
        self.inner.on_primary.load(Ordering::Relaxed)
    }

    /// The standbys as the watcher last saw them.
    pub fn standbys(&self) -> Vec<StandbyReport> {
        self.inner
            .standbys
            .iter()
            .map(|standby| StandbyReport {
                label: standby.label.clone(),
                up: standby.state.up.load(Ordering::SeqCst),
                behind_at_most: self.caught_up_at(standby).map(|at| at.elapsed()),
                serving: self.usable(standby, None),
            })
            .collect()
    }

    /// Closes every pool.
    pub fn close(&self) {
        self.inner.primary.close();
        for standby in &self.inner.standbys {
            standby.pool.close();
        }
    }

    fn pick(&self, fresh_since: Option<Instant>) -> Option<&Standby> {
        let standbys = &self.inner.standbys;
        if standbys.is_empty() {
            return None;
        }
        let start = self.inner.next.fetch_add(1, Ordering::Relaxed);
        (0..standbys.len())
            .map(|i| &standbys[(start + i) % standbys.len()])
            .find(|standby| self.usable(standby, fresh_since))
    }

    fn usable(&self, standby: &Standby, fresh_since: Option<Instant>) -> bool {
        if !standby.state.up.load(Ordering::SeqCst) {
            return false;
        }
        let Some(caught_up_at) = self.caught_up_at(standby) else {
            return false;
        };
        caught_up_at.elapsed() <= self.inner.max_lag
            && fresh_since.is_none_or(|since| caught_up_at > since)
    }

    fn caught_up_at(&self, standby: &Standby) -> Option<Instant> {
        match standby.state.caught_up.load(Ordering::SeqCst) {
            0 => None,
            n => Some(self.inner.epoch + Duration::from_nanos(n - 1)),
        }
    }
}

/// One standby as the watcher holds it.
struct Watched {
    label: String,
    settings: ConnectSettings,
    state: Arc<StandbyState>,
    client: Option<Client>,
}

fn watcher_settings(settings: &ConnectSettings) -> ConnectSettings {
    let mut settings = settings.clone();
    settings.pg.application_name(WATCHER_APPLICATION_NAME);
    settings
}

async fn watch(
    primary: ConnectSettings,
    mut standbys: Vec<Watched>,
    every: Duration,
    epoch: Instant,
) {
    let mut primary_client: Option<Client> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let asked = Instant::now();
        let position = match primary_position(&mut primary_client, &primary).await {
            Ok(position) => Some(position),
            Err(e) => {
                primary_client = None;
                tracing::debug!(error = %e, "cannot read the primary's WAL position; standbys age meanwhile");
                None
            }
        };
        for standby in &mut standbys {
            let outcome = replayed(standby, position.as_deref()).await;
            let was_up = standby.state.up.load(Ordering::SeqCst);
            match outcome {
                Ok(Replay::CaughtUp) => {
                    let nanos = u64::try_from(asked.duration_since(epoch).as_nanos())
                        .unwrap_or(u64::MAX - 1);
                    standby.state.caught_up.store(nanos + 1, Ordering::SeqCst);
                    mark_up(standby, was_up);
                }
                Ok(Replay::Behind) => mark_up(standby, was_up),
                Ok(Replay::NotInRecovery) => {
                    standby.state.up.store(false, Ordering::SeqCst);
                    if was_up {
                        tracing::warn!(standby = %standby.label,
                            "the standby is not in recovery (promoted?): reads no longer go to it");
                    }
                }
                Err(e) => {
                    standby.client = None;
                    standby.state.up.store(false, Ordering::SeqCst);
                    if was_up {
                        tracing::warn!(standby = %standby.label, error = %e,
                            "the standby does not answer: reads go to the primary");
                    }
                }
            }
        }
    }
}

fn mark_up(standby: &Watched, was_up: bool) {
    standby.state.up.store(true, Ordering::SeqCst);
    if !was_up {
        tracing::info!(standby = %standby.label, "the standby answers: it serves reads while it keeps up");
    }
}

enum Replay {
    CaughtUp,
    Behind,
    NotInRecovery,
}

async fn connected<'c>(
    client: &'c mut Option<Client>,
    settings: &ConnectSettings,
) -> Result<&'c Client, DbError> {
    if client.as_ref().is_none_or(Client::is_closed) {
        *client = Some(crate::pool::connect(settings).await?);
    }
    Ok(client.as_ref().expect("just connected"))
}

async fn primary_position(
    client: &mut Option<Client>,
    settings: &ConnectSettings,
) -> Result<String, DbError> {
    let ask = async {
        let client = connected(client, settings).await?;
        let row = client
            .query_typed_one("SELECT pg_current_wal_flush_lsn()::text", &[])
            .await?;
        Ok::<_, DbError>(row.try_get::<_, String>(0)?)
    };
    tokio::time::timeout(CHECK_TIMEOUT, ask)
        .await
        .map_err(|_| DbError::unavailable("the primary did not answer the WAL position check"))?
}

async fn replayed(standby: &mut Watched, position: Option<&str>) -> Result<Replay, DbError> {
    let ask = async {
        let client = connected(&mut standby.client, &standby.settings).await?;
        let row = client
            .query_typed_one(
                "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)",
                &[(&position, Type::TEXT)],
            )
            .await?;
        let in_recovery: bool = row.try_get(0)?;
        let caught_up: bool = row.try_get(1)?;
        Ok::<_, DbError>(match (in_recovery, caught_up) {
            (false, _) => Replay::NotInRecovery,
            (true, true) => Replay::CaughtUp,
            (true, false) => Replay::Behind,
        })
    };
    tokio::time::timeout(CHECK_TIMEOUT, ask)
        .await
        .map_err(|_| DbError::unavailable("the standby did not answer the replay check"))?
}
