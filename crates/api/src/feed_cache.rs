//! The home feed's first page from memory: what every visitor loads, the same for everyone.
//! It is kept as the encoded JSON bytes with an ETag (`If-None-Match` → 304) and is never served
//! when it may be wrong:
//! - a write of this process (create, reply, profile) drops it before the write is answered, so
//!   a client always sees its own crud on its next request;
//! - a write of anyone else (another server, the Lambda, psql) reaches it through `LISTEN`
//!   (migration V7's triggers, [`db::notify`]) and drops it;
//! - it expires at its earliest `expires_at`, measured by the database's clock when it was read;
//! - while the listener is not subscribed, the cache is bypassed; after it subscribes again, the
//!   page is trusted only once read anew.
//!
//! Every drop bumps a generation; a page read while the generation moved is answered to the
//! requests that waited for it but not kept. Rebuilds are single-flight: a burst of misses makes
//! one query.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use db::activity::CrudRow;
use db::notify::{FeedEvent, FeedListener};
use db::{ConnectSettings, Reads};
use tokio::time::Instant;

use crate::error::ApiError;

/// One encoded first page.
#[derive(Debug, Clone)]
struct Page {
    body: Bytes,
    etag: HeaderValue,
    /// When its first item or reply expires (never, for a page without expiring ones).
    expires: Option<Instant>,
    generation: u64,
}

impl Page {
    fn fresh(&self, generation: u64) -> bool {
        self.generation == generation && self.expires.is_none_or(|at| Instant::now() < at)
    }
}

#[derive(Debug)]
struct Shared {
    reads: Reads,
    /// When the page was last dropped: a rebuild must see everything committed before it, so
    /// a standby serves it only once proven to have replayed that far ([`Reads::read`]).
    dropped_at: Mutex<std::time::Instant>,
    limit: i64,
    replies: i64,
    page: Mutex<Option<Page>>,
    generation: AtomicU64,
    /// The listener is subscribed: changes by others are being reported.
    listening: AtomicBool,
    rebuild: tokio::sync::Mutex<()>,
    rebuilds: AtomicU64,
    fast_answers: AtomicU64,
}

impl Shared {
    fn drop_page(&self) {
        *self
            .dropped_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = std::time::Instant::now();
        self.generation.fetch_add(1, Ordering::SeqCst);
        *self.page.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn on_event(&self, event: FeedEvent) {
        match event {
            FeedEvent::Changed => self.drop_page(),
            FeedEvent::Lost => {
                if self.listening.swap(false, Ordering::SeqCst) {
                    tracing::warn!("feed cache bypassed: its change listener is disconnected");
                }
                self.drop_page();
            }
            FeedEvent::Listening => {
                // Whatever was kept before may have missed changes: read anew from here on.
                self.drop_page();
                self.listening.store(true, Ordering::SeqCst);
                tracing::info!("feed cache trusted: its change listener is subscribed");
            }
        }
    }
}

/// The cache and its listener; cheap to clone.
#[derive(Debug, Clone)]
pub struct FeedCache {
    shared: Arc<Shared>,
    _listener: Arc<FeedListener>,
}

impl FeedCache {
    /// Starts the listener on the current runtime. Until it is subscribed, every request reads
    /// the database. `limit` is the page size kept, `replies` the replies per item.
    pub fn start(reads: Reads, settings: &ConnectSettings, limit: i64, replies: i64) -> Self {
        let shared = Arc::new(Shared {
            reads,
            dropped_at: Mutex::new(std::time::Instant::now()),
            limit,
            replies,
            page: Mutex::new(None),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            rebuild: tokio::sync::Mutex::new(()),
            rebuilds: AtomicU64::new(0),
            fast_answers: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&shared);
        let listener = FeedListener::start(settings, move |event| {
            if let Some(shared) = weak.upgrade() {
                shared.on_event(event);
            }
        });
        Self {
            shared,
            _listener: Arc::new(listener),
        }
    }

    /// The page size this cache keeps.
    pub fn limit(&self) -> i64 {
        self.shared.limit
    }

    /// Whether pages are being kept (the listener is subscribed).
    pub fn is_trusted(&self) -> bool {
        self.shared.listening.load(Ordering::SeqCst)
    }

    /// Pages read from the database so far (hits are the requests beyond these).
    pub fn rebuilds(&self) -> u64 {
        self.shared.rebuilds.load(Ordering::Relaxed)
    }

    /// Drops the kept page: call after a write of this process, before answering it.
    pub fn invalidate(&self) {
        self.shared.drop_page();
    }

    /// The first page as a response: `304` when `If-None-Match` names its ETag. `X-Cache` says
    /// where it came from: `hit` (memory), `miss` (read, and kept), `bypass` (read, not kept:
    /// the listener is down or the page changed while it was read).
    pub async fn respond(&self, headers: &HeaderMap) -> Result<Response, ApiError> {
        let (page, source) = self.page().await?;
        Ok(answer(page, source, headers))
    }

    /// The kept page as [`Self::respond`] answers a hit, or `None` when no page may be served
    /// from memory: nothing here waits.
    pub fn respond_from_memory(&self, headers: &HeaderMap) -> Option<Response> {
        let page = self.kept()?;
        self.shared.fast_answers.fetch_add(1, Ordering::Relaxed);
        Some(answer(page, "hit", headers))
    }

    /// Answers given by [`Self::respond_from_memory`] (the fast lane) so far.
    pub fn fast_answers(&self) -> u64 {
        self.shared.fast_answers.load(Ordering::Relaxed)
    }

    async fn page(&self) -> Result<(Page, &'static str), ApiError> {
        let shared = &self.shared;
        if let Some(page) = self.kept() {
            return Ok((page, "hit"));
        }
        let _one_at_a_time = shared.rebuild.lock().await;
        // Another request may have rebuilt it while this one waited.
        if let Some(page) = self.kept() {
            return Ok((page, "hit"));
        }
        let generation = shared.generation.load(Ordering::SeqCst);
        let trusted = shared.listening.load(Ordering::SeqCst);
        let since = *shared
            .dropped_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let asked = Instant::now();
        let (limit, replies) = (shared.limit, shared.replies);
        let (items, db_now) = shared
            .reads
            .read_with(
                db::reads::Freshness::CaughtUpTo(since),
                move |pool| async move {
                    db::activities::home_feed_snapshot(&pool, limit, replies).await
                },
            )
            .await?;
        shared.rebuilds.fetch_add(1, Ordering::Relaxed);
        let expires = db_now.and_then(|now| first_expiry(&items, now, asked));
        let body = Bytes::from(
            serde_json::to_vec(&crate::json::feed(items))
                .map_err(|e| ApiError::Internal(Box::new(e)))?,
        );
        let page = Page {
            etag: etag_of(&body),
            body,
            expires,
            generation,
        };
        // Kept only if nothing changed while it was read and changes are being reported.
        if trusted && shared.generation.load(Ordering::SeqCst) == generation {
            *shared.page.lock().unwrap_or_else(PoisonError::into_inner) = Some(page.clone());
            return Ok((page, "miss"));
        }
        Ok((page, "bypass"))
    }

    /// The kept page, if it may be served.
    fn kept(&self) -> Option<Page> {
        if !self.shared.listening.load(Ordering::SeqCst) {
            return None;
        }
        let generation = self.shared.generation.load(Ordering::SeqCst);
        self.shared
            .page
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|page| page.fresh(generation))
            .cloned()
    }
}

/// `page` as a response to a request with `headers`: `304` when `If-None-Match` names its ETag.
fn answer(page: Page, source: &'static str, headers: &HeaderMap) -> Response {
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .any(|value| etag_listed(value, &page.etag));
    let cache_headers = [
        (header::ETAG, page.etag.clone()),
        // Browsers may keep it but must ask again each time (and get a 304).
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            header::HeaderName::from_static("x-cache"),
            HeaderValue::from_static(source),
        ),
    ];
    if matches {
        return (StatusCode::NOT_MODIFIED, cache_headers).into_response();
    }
    (
        StatusCode::OK,
        cache_headers,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        page.body,
    )
        .into_response()
}

/// When the first crud or reply on the page expires, on our clock: `db_now` (the database's
/// clock when it read the page) is taken to be `asked` (when we sent the query), so the page
/// leaves no later than the database would hide the item, give or take the query's latency.
fn first_expiry(items: &[CrudRow], db_now: DateTime<Utc>, asked: Instant) -> Option<Instant> {
    let earliest = items
        .iter()
        .flat_map(|item| std::iter::once(&item.activity).chain(item.replies.iter()))
        .filter_map(|activity| activity.expires_at)
        .min()?;
    let left = (earliest - db_now).to_std().unwrap_or(Duration::ZERO);
    Some(asked + left)
}

/// A strong ETag from the body's contents (SipHash: identical pages share a tag across
/// rebuilds and servers of one build).
fn etag_of(body: &[u8]) -> HeaderValue {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    HeaderValue::from_str(&format!("\"{:016x}-{}\"", hasher.finish(), body.len()))
        .unwrap_or_else(|_| HeaderValue::from_static("\"unhashable\""))
}

/// Whether an `If-None-Match` value lists `etag` (or is `*`); weak tags compare equal too
/// (RFC 9110's weak comparison, which `If-None-Match` uses).
fn etag_listed(value: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    value.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists_are_compared_weakly() {
        let etag = HeaderValue::from_static("\"abc-1\"");
        for listed in ["\"abc-1\"", "W/\"abc-1\"", "\"x\", \"abc-1\"", "*"] {
            assert!(
                etag_listed(&HeaderValue::from_static(listed), &etag),
                "{listed}"
            );
        }
        for other in ["\"abc-2\"", "abc-1", ""] {
            assert!(
                !etag_listed(&HeaderValue::from_static(other), &etag),
                "{other}"
            );
        }
    }

    #[test]
    fn etags_follow_the_bytes() {
        assert_eq!(etag_of(b"[1]"), etag_of(b"[1]"));
        assert_ne!(etag_of(b"[1]"), etag_of(b"[2]"));
    }
}
