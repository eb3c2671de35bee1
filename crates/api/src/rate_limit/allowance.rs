//! The accounting of write limits: rates, allowances, and the keyed limiters that count writes
//! per client address and per author. It knows nothing of HTTP answers: a refusal is a
//! [`Refused`], which the API's error type converts.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Default for [`WriteLimits::per_address`]: Mastodon's 300 per 5 minutes.
pub const DEFAULT_PER_ADDRESS: &str = "300/5m";
/// Default for [`WriteLimits::per_author`]: Twitter's 300 posts per 3 hours.
pub const DEFAULT_PER_AUTHOR: &str = "300/3h";
/// Most clients (or authors) one limiter tracks. Past it, allowances that have refilled are
/// forgotten; if that frees nothing, writes are shed (`503 overloaded`) rather than memory grown.
const MAX_TRACKED: usize = 100_000;
/// How often refilled allowances are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// `N/window`: at most N writes in any window, refilled one by one (`300/5m`, `300/3h`, `10/30s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub writes: NonZeroU32,
    pub window: Duration,
}

/// A [`Rate`] that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a rate is N/window with N ≥ 1 and a window like 30s, 5m or 3h (got {0:?})")]
pub struct RateError(String);

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let invalid = || RateError(raw.to_owned());
        let (writes, window) = raw.trim().split_once('/').ok_or_else(invalid)?;
        let writes: NonZeroU32 = writes.trim().parse().map_err(|_| invalid())?;
        let window = window.trim();
        let unit_at = window
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        let (amount, unit) = window.split_at(unit_at);
        let amount: u64 = amount.parse().map_err(|_| invalid())?;
        let seconds = match unit {
            "s" => Some(amount),
            "m" => amount.checked_mul(60),
            "h" => amount.checked_mul(3600),
            _ => None,
        }
        .filter(|s| *s > 0)
        .ok_or_else(invalid)?;
        Ok(Self {
            writes,
            window: Duration::from_secs(seconds),
        })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}s", self.writes, self.window.as_secs())
    }
}

impl Rate {
    fn quota(self) -> Quota {
        let refill = (self.window / self.writes.get()).max(Duration::from_nanos(1));
        Quota::with_period(refill)
            .unwrap_or_else(|| Quota::per_second(self.writes))
            .allow_burst(self.writes)
    }
}

/// What the write limits are. `None` turns one off (the benchmark's `--no-write-limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteLimits {
    pub per_address: Option<Rate>,
    pub per_author: Option<Rate>,
    /// Proxies in front of the server that append to `X-Forwarded-For` (an AWS load balancer:
    /// 1). With 0 the client is the TCP peer; with N the client is the Nth address from the
    /// right, which no client can forge past N trusted proxies.
    pub trust_proxy_hops: usize,
}

impl WriteLimits {
    /// No write limits at all (the benchmark's `--no-write-limits`).
    pub const OFF: Self = Self {
        per_address: None,
        per_author: None,
        trust_proxy_hops: 0,
    };
}

impl Default for WriteLimits {
    fn default() -> Self {
        Self {
            per_address: DEFAULT_PER_ADDRESS.parse().ok(),
            per_author: DEFAULT_PER_AUTHOR.parse().ok(),
            trust_proxy_hops: 0,
        }
    }
}

/// Where a client stands against one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub limit: u32,
    pub remaining: u32,
    /// Until the allowance is whole again.
    pub full_in: Duration,
    /// Until the next write is allowed (zero unless refused).
    pub retry_in: Duration,
}

impl Allowance {
    /// The tighter of two allowances: fewer writes left, then the longer wait.
    pub(crate) fn tighter(self, other: Self) -> Self {
        if (other.remaining, std::cmp::Reverse(other.retry_in))
            < (self.remaining, std::cmp::Reverse(self.retry_in))
        {
            other
        } else {
            self
        }
    }

    /// Seconds a refused client should wait: rounded up, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        let secs = self.retry_in.as_secs() + u64::from(self.retry_in.subsec_nanos() > 0);
        secs.max(1)
    }
}

/// Why a write was not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The client or the author has used up the allowance.
    Exhausted(Allowance),
    /// The limiter tracks as many clients as it may and none has refilled: shed rather than
    /// grow.
    Full,
}

type Keyed<K> = DefaultKeyedRateLimiter<K, StateInformationMiddleware>;

/// One keyed limiter with a bound on what it remembers.
struct Bounded<K: std::hash::Hash + Eq + Clone> {
    limiter: Keyed<K>,
    /// Whether the limiter tracked [`MAX_TRACKED`] keys at the last look.
    full: AtomicBool,
    /// Milliseconds since `clock_start` of the last look (counting keys locks every shard of
    /// the map, so it is done at most once a second, not on every write).
    last_look_ms: AtomicU64,
    clock_start: std::time::Instant,
}

impl<K: std::hash::Hash + Eq + Clone> Bounded<K> {
    fn new(rate: Rate) -> Self {
        Self {
            limiter: RateLimiter::keyed(rate.quota())
                .with_middleware::<StateInformationMiddleware>(),
            full: AtomicBool::new(false),
            last_look_ms: AtomicU64::new(0),
            clock_start: std::time::Instant::now(),
        }
    }

    fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Whether the limiter is full: looked at (and, when full, swept) at most once a second.
    fn full(&self) -> bool {
        let now_ms = u64::try_from(self.clock_start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_look_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) >= 1_000
            && self
                .last_look_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            if self.limiter.len() >= MAX_TRACKED {
                self.limiter.retain_recent();
            }
            self.full
                .store(self.limiter.len() >= MAX_TRACKED, Ordering::Relaxed);
        }
        self.full.load(Ordering::Relaxed)
    }

    fn check(&self, key: &K) -> Result<Allowance, Refused> {
        if self.full() {
            return Err(Refused::Full);
        }
        match self.limiter.check_key(key) {
            Ok(snapshot) => {
                let quota = snapshot.quota();
                let remaining = snapshot.remaining_burst_capacity();
                let used = quota.burst_size().get().saturating_sub(remaining);
                Ok(Allowance {
                    limit: quota.burst_size().get(),
                    remaining,
                    full_in: quota.replenish_interval() * used,
                    retry_in: Duration::ZERO,
                })
            }
            Err(not_until) => {
                let quota = not_until.quota();
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                let limit = quota.burst_size().get();
                Err(Refused::Exhausted(Allowance {
                    limit,
                    remaining: 0,
                    full_in: wait + quota.replenish_interval() * limit.saturating_sub(1),
                    retry_in: wait,
                }))
            }
        }
    }
}

/// The write limiters of one server.
pub struct WriteLimiter {
    limits: WriteLimits,
    by_address: Option<Bounded<IpAddr>>,
    by_author: Option<Bounded<String>>,
}

impl std::fmt::Debug for WriteLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteLimiter")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl WriteLimiter {
    /// Limiters for `limits`; when on a tokio runtime, also a task that forgets refilled
    /// allowances every minute, for as long as the limiter lives.
    pub fn new(limits: WriteLimits) -> Arc<Self> {
        let limiter = Arc::new(Self {
            limits,
            by_address: limits.per_address.map(Bounded::new),
            by_author: limits.per_author.map(Bounded::new),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            let weak = Arc::downgrade(&limiter);
            tokio::spawn(sweep_while_alive(weak));
        }
        limiter
    }

    /// Counts a write against the author's allowance (a handle that breaks the handle rule is
    /// refused later by validation and not counted).
    pub fn check_author(&self, handle: Option<&str>) -> Result<Option<Allowance>, Refused> {
        let Some(limiter) = &self.by_author else {
            return Ok(None);
        };
        let Some(Ok(handle)) = handle.map(domain::Handle::parse) else {
            return Ok(None);
        };
        limiter
            .check(&handle.as_str().to_ascii_lowercase())
            .map(Some)
    }

    /// Counts a write against the client address's allowance.
    pub(crate) fn check_address(&self, address: IpAddr) -> Result<Option<Allowance>, Refused> {
        self.by_address
            .as_ref()
            .map(|limiter| limiter.check(&address))
            .transpose()
    }

    /// The limits this limiter counts against.
    pub(crate) fn limits(&self) -> &WriteLimits {
        &self.limits
    }

    fn sweep(&self) {
        if let Some(l) = &self.by_address {
            l.sweep();
        }
        if let Some(l) = &self.by_author {
            l.sweep();
        }
    }
}

async fn sweep_while_alive(limiter: Weak<WriteLimiter>) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        match limiter.upgrade() {
            Some(limiter) => limiter.sweep(),
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_with_seconds_minutes_or_hours() {
        let rate: Rate = "300/5m".parse().unwrap();
        assert_eq!(
            (rate.writes.get(), rate.window),
            (300, Duration::from_secs(300))
        );
        assert_eq!(
            "300/3h".parse::<Rate>().unwrap().window,
            Duration::from_secs(3 * 3600)
        );
        assert_eq!(
            " 10 / 30s ".parse::<Rate>().unwrap().window,
            Duration::from_secs(30)
        );
        for bad in [
            "", "300", "0/5m", "300/", "300/5", "300/0s", "300/5d", "-1/5m", "x/5m",
        ] {
            assert_eq!(
                bad.parse::<Rate>(),
                Err(RateError(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_allowance_is_spent_then_refused_with_a_retry_after() {
        let limiter = WriteLimiter::new(WriteLimits {
            per_author: Some("2/1h".parse().unwrap()),
            ..WriteLimits::default()
        });
        let first = limiter.check_author(Some("Bayko")).unwrap().unwrap();
        assert_eq!((first.limit, first.remaining), (2, 1));
        let second = limiter.check_author(Some("bayko")).unwrap().unwrap();
        assert_eq!(second.remaining, 0, "handles count case-insensitively");
        match limiter.check_author(Some("bayko")) {
            Err(Refused::Exhausted(refused)) => {
                assert_eq!(refused.remaining, 0);
                // One write refills every 30 minutes.
                assert!(refused.retry_after_secs() > 29 * 60, "{refused:?}");
                assert!(refused.retry_after_secs() <= 30 * 60, "{refused:?}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(
            limiter.check_author(Some("andrewbrown")).unwrap().is_some(),
            "another author has an allowance of their own"
        );
        assert_eq!(
            limiter.check_author(Some("not a handle")).unwrap(),
            None,
            "not counted"
        );
    }
}
