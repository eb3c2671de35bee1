//! The accept loop: HTTP/1.1 connections under limits that `axum::serve` cannot set — a
//! header-read timeout, an idle keep-alive timeout and a cap on open connections — plus a
//! graceful, bounded shutdown. Each connection carries its peer address (`ConnectInfo`) for the
//! per-address write limit.
//!
//! The header-read timeout is hyper's own (it needs a timer, which `axum::serve` never gives it,
//! so there it silently does nothing). hyper starts that clock when a connection opens and again
//! when a response is done, so it bounds slow-header clients and idle connections alike; the
//! idle timeout, at most as long, closes a keep-alive connection that has gone idle after a
//! request sooner.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::serve::{Listener, ListenerExt};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceBuilder;

/// Default for [`ConnectionLimits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default for [`ConnectionLimits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 5;
/// Default for [`ConnectionLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;

/// Limits on connections, as opposed to requests (see [`crate::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's headers, counted from when the connection
    /// opened or its previous response was done. Slow-header clients are closed after it.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// Most connections open at once. At the cap no more are accepted (they wait in the
    /// listen backlog) until one closes; the timeouts above make sure one does.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Settings [`serve`] refuses.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitsError {
    #[error("the header-read timeout must be at least 1 ms")]
    ZeroHeaderReadTimeout,
    #[error("the idle timeout must be at least 1 ms")]
    ZeroIdleTimeout,
    #[error("the idle timeout ({idle:?}) may not exceed the header-read timeout ({header:?}): the header clock also runs while a connection is idle, so it would close idle connections first")]
    IdleLongerThanHeaderRead { idle: Duration, header: Duration },
    #[error("the connection cap must be at least 1")]
    ZeroConnections,
}

impl ConnectionLimits {
    pub fn validate(&self) -> Result<(), LimitsError> {
        if self.header_read_timeout.is_zero() {
            return Err(LimitsError::ZeroHeaderReadTimeout);
        }
        if self.idle_timeout.is_zero() {
            return Err(LimitsError::ZeroIdleTimeout);
        }
        if self.idle_timeout > self.header_read_timeout {
            return Err(LimitsError::IdleLongerThanHeaderRead {
                idle: self.idle_timeout,
                header: self.header_read_timeout,
            });
        }
        if self.max_connections == 0 {
            return Err(LimitsError::ZeroConnections);
        }
        Ok(())
    }
}

/// How [`serve`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Every connection finished within the grace period.
    Complete,
    /// This many connections were still open when the grace period ran out.
    TimedOut { open: usize },
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets in-flight
/// requests finish (idle connections close at once) for at most `grace`, and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> Result<Drain, LimitsError> {
    limits.validate()?;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    // Responses go out in one write; without TCP_NODELAY a reply can wait for the peer's
    // delayed ACK of the previous one.
    let mut listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
        }
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A slot first: at the cap, clients wait in the backlog instead of being accepted and
        // dropped (which would spend a descriptor on each and invite instant retries).
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        // axum's Listener retries accept errors itself (backing off on EMFILE).
        let (io, remote) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let connection = Connection {
            http: http.clone(),
            app: app.clone(),
            remote,
            idle_timeout: limits.idle_timeout,
            close_within: limits.header_read_timeout,
            stop: stop.clone(),
        };
        tasks.spawn(async move {
            connection.run(io).await;
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(
        open = tasks.len(),
        "shutting down: finishing in-flight requests"
    );
    stop.cancel();
    tasks.close();
    match tokio::time::timeout(grace, tasks.wait()).await {
        Ok(()) => Ok(Drain::Complete),
        Err(_) => Ok(Drain::TimedOut { open: tasks.len() }),
    }
}

/// How long a connection accepted just before shutdown, with no request yet, is given to send
/// one: its request may already be on the wire, and hyper's graceful shutdown would close the
/// connection without reading it.
const FIRST_REQUEST_GRACE: Duration = Duration::from_secs(1);

/// One accepted connection and what it needs to serve itself.
struct Connection {
    http: hyper::server::conn::http1::Builder,
    app: Router,
    remote: SocketAddr,
    idle_timeout: Duration,
    /// Once asked to close, how long a connection may take to finish its last response (a
    /// client that stops reading would otherwise hold it forever).
    close_within: Duration,
    stop: CancellationToken,
}

impl Connection {
    async fn run(self, io: tokio::net::TcpStream) {
        let activity = Arc::new(ConnectionUse::new());
        let remote = self.remote;
        let tracked = Arc::clone(&activity);
        let service = ServiceBuilder::new()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request
            })
            .map_future(move |response| {
                let busy = tracked.begin();
                async move {
                    let response = response.await;
                    drop(busy);
                    response
                }
            })
            .service(self.app);
        let connection = self
            .http
            .serve_connection(TokioIo::new(io), TowerToHyperService::new(service));
        let mut connection = std::pin::pin!(connection);
        let mut closing: Option<Instant> = None;
        // Set when the stop came before this connection's first request.
        let mut first_request_by: Option<Instant> = None;
        let outcome = loop {
            tokio::select! {
                outcome = connection.as_mut() => break Some(outcome),
                () = self.stop.cancelled(), if closing.is_none() && first_request_by.is_none() => {
                    if activity.never_used() {
                        first_request_by =
                            Some(Instant::now() + FIRST_REQUEST_GRACE.min(self.close_within));
                    } else {
                        connection.as_mut().graceful_shutdown();
                        closing = Some(Instant::now() + self.close_within);
                    }
                }
                () = activity.first_request_settled(first_request_by), if closing.is_none() => {
                    connection.as_mut().graceful_shutdown();
                    closing = Some(Instant::now() + self.close_within);
                }
                () = activity.idle_for(self.idle_timeout), if closing.is_none() => {
                    connection.as_mut().graceful_shutdown();
                    closing = Some(Instant::now() + self.close_within);
                }
                () = sleep_until_some(closing) => break None,
            }
        };
        match outcome {
            Some(Ok(())) => {}
            Some(Err(e)) if e.is_timeout() => {
                tracing::debug!(%remote, "closed a connection that sent no complete request headers in time");
            }
            Some(Err(e)) => tracing::debug!(%remote, error = %e, "connection ended with an error"),
            None => {
                tracing::debug!(%remote, "dropped a connection that did not finish closing in time")
            }
        }
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Requests in flight on one connection and when the last one finished (`None` before the
/// first: until then the connection is hyper's header-read timeout's to close).
struct ConnectionUse {
    in_flight: AtomicUsize,
    begun: std::sync::atomic::AtomicBool,
    last_done: Mutex<Option<Instant>>,
}

/// A request in flight; its drop marks the connection idle from then on.
struct Busy(Arc<ConnectionUse>);

impl ConnectionUse {
    fn new() -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            begun: std::sync::atomic::AtomicBool::new(false),
            last_done: Mutex::new(None),
        }
    }

    fn begin(self: &Arc<Self>) -> Busy {
        self.begun.store(true, Ordering::SeqCst);
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Busy(Arc::clone(self))
    }

    fn last_done(&self) -> Option<Instant> {
        *self
            .last_done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn never_used(&self) -> bool {
        !self.begun.load(Ordering::SeqCst)
    }

    /// With `by` set: resolves once the first request has been answered, or at `by` if none
    /// has begun by then. Never resolves without `by`.
    async fn first_request_settled(&self, by: Option<Instant>) {
        let Some(by) = by else {
            return std::future::pending().await;
        };
        loop {
            let begun = self.begun.load(Ordering::SeqCst);
            let answered = self.in_flight.load(Ordering::SeqCst) == 0 && self.last_done().is_some();
            if (begun && answered) || (!begun && Instant::now() >= by) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Resolves once, after a first request, no request has been in flight for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let last_done = match self.last_done() {
                Some(at) if self.in_flight.load(Ordering::SeqCst) == 0 => at,
                _ => {
                    tokio::time::sleep(idle).await;
                    continue;
                }
            };
            let deadline = last_done + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self
            .0
            .last_done
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_that_cannot_work_are_refused() {
        assert_eq!(ConnectionLimits::default().validate(), Ok(()));
        let idle_too_long = ConnectionLimits {
            idle_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS + 1),
            ..ConnectionLimits::default()
        };
        assert_eq!(
            idle_too_long.validate(),
            Err(LimitsError::IdleLongerThanHeaderRead {
                idle: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS + 1),
                header: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            })
        );
        let no_idle_time = ConnectionLimits {
            idle_timeout: Duration::ZERO,
            ..ConnectionLimits::default()
        };
        assert_eq!(no_idle_time.validate(), Err(LimitsError::ZeroIdleTimeout));
        let no_connections = ConnectionLimits {
            max_connections: 0,
            ..ConnectionLimits::default()
        };
        assert_eq!(no_connections.validate(), Err(LimitsError::ZeroConnections));
        let no_header_time = ConnectionLimits {
            header_read_timeout: Duration::ZERO,
            ..ConnectionLimits::default()
        };
        assert_eq!(
            no_header_time.validate(),
            Err(LimitsError::ZeroHeaderReadTimeout)
        );
    }
}
