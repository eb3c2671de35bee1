//! Rate limits on writes (create, reply, profile update), from `governor` (GCRA, keyed): per
//! client address on every write route, and per author once the author is known. A refused
//! write is `429 ["rate_limited"]` with `Retry-After`; every answer of a write route says where
//! its client stands in Mastodon's headers (`X-RateLimit-Limit`, `-Remaining`, `-Reset`), for
//! whichever of the two limits is closer to running out.
//!
//! Defaults follow the anchors: Mastodon's 300 requests per 5 minutes per address, Twitter's
//! 300 posts per 3 hours per user. Each allowance refills steadily (one write per window/limit).

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::ExtensionRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::middleware::StateInformationMiddleware;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

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
    fn tighter(self, other: Self) -> Self {
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

    fn write_headers(&self, headers: &mut HeaderMap) {
        let reset = chrono::Utc::now()
            + chrono::Duration::from_std(self.full_in).unwrap_or(chrono::Duration::zero());
        let reset = reset.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        for (name, value) in [
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", reset),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
    }
}

/// An allowance for [`limit_writes`] to report, in a response's extensions: the author's, put
/// there by the handler, or a refused one, put there by the `429` itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReportedAllowance(pub(crate) Allowance);

/// A write's answer, success or refusal, carrying the author's allowance for [`limit_writes`].
pub fn with_author_allowance(
    answer: Result<Response, ApiError>,
    allowance: Option<Allowance>,
) -> Response {
    let mut response = answer.unwrap_or_else(IntoResponse::into_response);
    if let Some(allowance) = allowance {
        response
            .extensions_mut()
            .insert(ReportedAllowance(allowance));
    }
    response
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

    fn check(&self, key: &K) -> Result<Allowance, ApiError> {
        if self.full() {
            return Err(ApiError::Overloaded);
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
                Err(ApiError::RateLimited(Allowance {
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

    /// The client a request comes from: the TCP peer, or with `trust_proxy_hops` = N the Nth
    /// `X-Forwarded-For` address from the right (the peer when there are fewer, or one that is
    /// not an address). IPv6 clients count per /64, the block one subscriber usually holds.
    fn client_address(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let hops = self.limits.trust_proxy_hops;
        // From the right, over every X-Forwarded-For line, as bytes: a client's own entries
        // (which may not even be ASCII) come first and are never read.
        let forwarded = hops
            .checked_sub(1)
            .and_then(|skip| {
                headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .rev()
                    .flat_map(|line| line.as_bytes().rsplit(|b| *b == b','))
                    .nth(skip)
            })
            .and_then(|entry| std::str::from_utf8(entry).ok())
            .and_then(|entry| entry.trim().parse::<IpAddr>().ok());
        per_subscriber(forwarded.unwrap_or(peer.ip()))
    }

    /// Counts a write against the author's allowance (a handle that breaks the handle rule is
    /// refused later by validation and not counted).
    pub fn check_author(&self, handle: Option<&str>) -> Result<Option<Allowance>, ApiError> {
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

    fn check_address(&self, address: IpAddr) -> Result<Option<Allowance>, ApiError> {
        self.by_address
            .as_ref()
            .map(|limiter| limiter.check(&address))
            .transpose()
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

fn per_subscriber(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Middleware of the write routes: counts the write against the client address's allowance
/// (refusing it before the body is read), then reports the tighter of that and the author's
/// allowance (which the handler checked) in the response headers.
pub async fn limit_writes(
    State(limiter): State<Arc<WriteLimiter>>,
    peer: Result<ConnectInfo<SocketAddr>, ExtensionRejection>,
    request: Request,
    next: Next,
) -> Response {
    let by_address = match peer {
        Ok(ConnectInfo(peer)) => {
            limiter.check_address(limiter.client_address(peer, request.headers()))
        }
        // Only a server started without the accept loop of `crate::server` has no peer.
        Err(_) if limiter.by_address.is_some() => Err(ApiError::Internal(
            "a write arrived without its peer address (ConnectInfo)".into(),
        )),
        Err(_) => Ok(None),
    };
    // A refusal (by address here, or by author in the handler) reports itself.
    let (mut response, by_address) = match by_address {
        Ok(allowance) => (next.run(request).await, allowance),
        Err(refused) => (refused.into_response(), None),
    };
    let reported = response
        .extensions()
        .get::<ReportedAllowance>()
        .map(|a| a.0);
    let tightest = match (by_address, reported) {
        (Some(a), Some(b)) => Some(a.tighter(b)),
        (a, b) => a.or(b),
    };
    if let Some(allowance) = tightest {
        allowance.write_headers(response.headers_mut());
    }
    response
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
    fn the_client_is_the_peer_unless_proxies_are_trusted() {
        let peer: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7"),
        );
        let direct = WriteLimiter::new(WriteLimits::default());
        assert_eq!(
            direct.client_address(peer, &headers),
            "10.0.0.9".parse::<IpAddr>().unwrap(),
            "with no trusted proxy X-Forwarded-For is the client's to forge"
        );
        let behind_one = WriteLimiter::new(WriteLimits {
            trust_proxy_hops: 1,
            ..WriteLimits::default()
        });
        assert_eq!(
            behind_one.client_address(peer, &headers),
            "203.0.113.7".parse::<IpAddr>().unwrap(),
            "the address the trusted proxy appended, not the forged one before it"
        );
        let behind_three = WriteLimiter::new(WriteLimits {
            trust_proxy_hops: 3,
            ..WriteLimits::default()
        });
        assert_eq!(
            behind_three.client_address(peer, &headers),
            "10.0.0.9".parse::<IpAddr>().unwrap(),
            "too short a chain falls back to the peer"
        );
        // The chain runs over every header line in order; a client's own entry may be any bytes.
        let mut lines = HeaderMap::new();
        lines.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"caf\xc3\xa9, 6.6.6.6").unwrap(),
        );
        lines.append("x-forwarded-for", HeaderValue::from_static("198.51.100.4"));
        lines.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        let behind_two = WriteLimiter::new(WriteLimits {
            trust_proxy_hops: 2,
            ..WriteLimits::default()
        });
        assert_eq!(
            behind_two.client_address(peer, &lines),
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            per_subscriber("2001:db8:1:2:aaaa::1".parse().unwrap()),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            per_subscriber("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
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
            Err(ApiError::RateLimited(refused)) => {
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
