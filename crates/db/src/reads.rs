//! Reads on streaming standbys (`READ_CONNECTION_URL`), with the primary as the fallback.
//!
//! A standby serves a read only while it is known to be at most `max_lag` behind. That is
//! measured without a query per request: a watcher task per standby reads the primary's WAL
//! insert position (`pg_current_wal_insert_lsn()`) every `max_lag / 4` and keeps the recent
//! answers, then reads how far the standby has replayed (`pg_last_wal_replay_lsn()`). Once it
//! has replayed past an answer, everything the primary had committed when the watcher asked is
//! on the standby, so the standby is stale by at most the time since that question — an
//! upper bound that holds whether the primary is busy or idle (`now() - pg_last_xact_replay_timestamp()` grows on an idle primary though nothing is
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
struct Watcher(Vec<JoinHandle<()>>);

impl Drop for Watcher {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
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

/// How fresh a read must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Any standby within the lag bound may serve it.
    WithinLagBound,
    /// Only a standby proven to hold everything the primary had committed at this moment may
    /// serve it (a read after one's own write, a cache rebuilt after a change).
    CaughtUpTo(Instant),
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
        let watch_primary = watcher_settings(primary_settings);
        let tasks = watched
            .into_iter()
            .map(|standby| tokio::spawn(watch(watch_primary.clone(), standby, every, epoch)))
            .collect();
        Ok(Self::assemble(
            primary,
            built,
            max_lag,
            Some(Watcher(tasks)),
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

    /// Runs `read` on a standby within the lag bound, else on the primary; a read that fails on
    /// a standby runs again on the primary.
    ///
    /// `read` gets the pool by value (a cheap handle) so that its future borrows nothing from
    /// this call and stays `Send` for axum.
    pub async fn read<T, F, Fut>(&self, read: F) -> Result<T, DbError>
    where
        F: Fn(Pool) -> Fut,
        Fut: std::future::Future<Output = Result<T, DbError>>,
    {
        self.read_with(Freshness::WithinLagBound, read).await
    }

    /// [`Self::read`], with the freshness the read needs.
    pub async fn read_with<T, F, Fut>(&self, freshness: Freshness, read: F) -> Result<T, DbError>
    where
        F: Fn(Pool) -> Fut,
        Fut: std::future::Future<Output = Result<T, DbError>>,
    {
        let fresh_since = match freshness {
            Freshness::WithinLagBound => None,
            Freshness::CaughtUpTo(moment) => Some(moment),
        };
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

/// One standby as its watcher holds it.
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

/// Primary positions kept: a standby that trails by up to this many checks is still credited
/// with the newest of them it has passed.
const POSITIONS_KEPT: usize = 64;

/// Watches one standby (each has its own task, so a hung one delays no other): every `every`,
/// reads the primary's WAL insert position and the standby's replay position. The insert
/// position covers every acknowledged commit, even with `synchronous_commit = off` (whose
/// commits may not be flushed yet). The standby is credited with the latest earlier question
/// whose answer it has replayed — under a steady write load the standby never catches up with
/// the very latest position, but it passes one asked a few milliseconds before.
async fn watch(primary: ConnectSettings, mut standby: Watched, every: Duration, epoch: Instant) {
    let mut primary_client: Option<Client> = None;
    let mut asked: std::collections::VecDeque<(Instant, u64)> =
        std::collections::VecDeque::with_capacity(POSITIONS_KEPT);
    let mut primary_answering = true;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let at = Instant::now();
        match primary_position(&mut primary_client, &primary).await {
            Ok(position) => {
                if asked.len() == POSITIONS_KEPT {
                    asked.pop_front();
                }
                asked.push_back((at, position));
                if !primary_answering {
                    tracing::info!("the primary answers the WAL position check again");
                }
                primary_answering = true;
            }
            Err(e) => {
                primary_client = None;
                if primary_answering {
                    tracing::warn!(error = %e, "cannot read the primary's WAL position: standbys age until it answers");
                }
                primary_answering = false;
            }
        }
        let was_up = standby.state.up.load(Ordering::SeqCst);
        match replayed(&mut standby).await {
            Ok(Some(replayed)) => {
                // The newest question whose answer the standby has replayed.
                if let Some((at, _)) = asked.iter().rev().find(|(_, pos)| *pos <= replayed) {
                    let nanos =
                        u64::try_from(at.duration_since(epoch).as_nanos()).unwrap_or(u64::MAX - 1);
                    standby
                        .state
                        .caught_up
                        .fetch_max(nanos + 1, Ordering::SeqCst);
                }
                standby.state.up.store(true, Ordering::SeqCst);
                if !was_up {
                    tracing::info!(standby = %standby.label, "the standby answers: it serves reads while it keeps up");
                }
            }
            Ok(None) => {
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
) -> Result<u64, DbError> {
    let ask = async {
        let client = connected(client, settings).await?;
        let row = client
            .query_typed_one(
                "SELECT pg_current_wal_insert_lsn()::text, current_setting('wal_block_size')::int8, \
                 (SELECT setting::int8 FROM pg_settings WHERE name = 'wal_segment_size')",
                &[],
            )
            .await?;
        let text: String = row.try_get(0)?;
        let block: i64 = row.try_get(1)?;
        let segment: i64 = row.try_get(2)?;
        let position = parse_lsn(&text)
            .ok_or_else(|| DbError::unavailable(format!("unreadable WAL position {text}")))?;
        Ok(without_page_header(
            position,
            u64::try_from(block).unwrap_or(8192),
            u64::try_from(segment).unwrap_or(16 << 20),
        ))
    };
    tokio::time::timeout(CHECK_TIMEOUT, ask)
        .await
        .map_err(|_| DbError::unavailable("the primary did not answer the WAL position check"))?
}

/// How far the standby has replayed; `None` when it is not in recovery (a primary of its own).
async fn replayed(standby: &mut Watched) -> Result<Option<u64>, DbError> {
    let ask = async {
        let client = connected(&mut standby.client, &standby.settings).await?;
        let row = client
            .query_typed_one(
                "SELECT pg_is_in_recovery(), coalesce(pg_last_wal_replay_lsn()::text, '0/0')",
                &[],
            )
            .await?;
        let in_recovery: bool = row.try_get(0)?;
        let text: String = row.try_get(1)?;
        if !in_recovery {
            return Ok(None);
        }
        parse_lsn(&text)
            .map(Some)
            .ok_or_else(|| DbError::unavailable(format!("unreadable replay position {text}")))
    };
    tokio::time::timeout(CHECK_TIMEOUT, ask)
        .await
        .map_err(|_| DbError::unavailable("the standby did not answer the replay check"))?
}

/// Page header sizes of the WAL (`SizeOfXLogShortPHD`, `SizeOfXLogLongPHD` on 64-bit builds).
const SHORT_PAGE_HEADER: u64 = 24;
const LONG_PAGE_HEADER: u64 = 40;

/// The insert position as a standby that has replayed everything reports it. When nothing has
/// been written on the current WAL page yet, `pg_current_wal_insert_lsn()` points past that
/// page's header, while replay stops at the end of the last record: the page's start. Without
/// this, an idle primary at a page boundary would never count a standby as caught up (seen: a
/// standby at 0/3000000 while the primary said 0/3000028, until the next WAL record).
fn without_page_header(position: u64, block: u64, segment: u64) -> u64 {
    if segment > 0 && position % segment == LONG_PAGE_HEADER {
        position - LONG_PAGE_HEADER
    } else if block > 0
        && segment > 0
        && position % segment != SHORT_PAGE_HEADER
        && position % block == SHORT_PAGE_HEADER
    {
        position - SHORT_PAGE_HEADER
    } else {
        position
    }
}

/// A `pg_lsn` as PostgreSQL prints it (`16/B374D848`: two hexadecimal halves).
fn parse_lsn(text: &str) -> Option<u64> {
    let (high, low) = text.split_once('/')?;
    let high = u64::from_str_radix(high, 16).ok()?;
    let low = u64::from_str_radix(low, 16).ok()?;
    (high <= u64::from(u32::MAX) && low <= u64::from(u32::MAX)).then_some((high << 32) | low)
}

#[cfg(test)]
mod tests {
    use super::{parse_lsn, without_page_header};

    #[test]
    fn a_position_just_past_a_page_header_is_the_pages_start() {
        const BLOCK: u64 = 8192;
        const SEGMENT: u64 = 16 << 20;
        // The first page of a segment has the long header, every other page the short one.
        assert_eq!(without_page_header(0x300_0028, BLOCK, SEGMENT), 0x300_0000);
        assert_eq!(without_page_header(0x300_2018, BLOCK, SEGMENT), 0x300_2000);
        // Positions inside a page's data are left alone, 40 bytes into a page too.
        assert_eq!(without_page_header(0x300_2028, BLOCK, SEGMENT), 0x300_2028);
        assert_eq!(without_page_header(0x300_0018, BLOCK, SEGMENT), 0x300_0018);
        assert_eq!(without_page_header(0x300_1234, BLOCK, SEGMENT), 0x300_1234);
    }

    #[test]
    fn lsns_compare_as_positions() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374_D848));
        assert!(parse_lsn("1/0") > parse_lsn("0/FFFFFFFF"));
        for bad in ["", "16", "x/1", "1/", "100000000/0"] {
            assert_eq!(parse_lsn(bad), None, "{bad}");
        }
    }
}
