//! The accept loop: HTTP/1.1 connections under limits that `axum::serve` cannot set — a
//! header-read timeout, an idle keep-alive timeout, a write timeout, a header buffer sized to
//! the largest legal request, a cap on open connections overall and per client address, and
//! room made at the cap by closing connections with no request in flight (see
//! [`crate::connections`]) — plus a graceful, bounded shutdown. Each connection carries its peer
//! address (`ConnectInfo`) for the per-address write limit.
//!
//! The header-read timeout is hyper's own (it needs a timer, which `axum::serve` never gives it,
//! so there it silently does nothing). hyper starts that clock when a connection opens and again
//! when a response is done, so it bounds slow-header clients and idle connections alike; the
//! idle timeout, at most as long, closes a keep-alive connection that has gone idle after a
//! request sooner.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
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
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::connections::{Registry, Ticket};
use tower::ServiceBuilder;

/// Default for [`ConnectionLimits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 10;
/// Default for [`ConnectionLimits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT_SECS: u64 = 5;
/// Default for [`ConnectionLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 2048;
/// Default for [`ConnectionLimits::max_connections_per_address`].
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 128;
/// Default for [`ConnectionLimits::write_timeout`].
pub const DEFAULT_WRITE_TIMEOUT_SECS: u64 = 5;
/// The largest request head (request line and headers) read: hyper's read buffer stops
/// growing here, and a longer head is answered `431`. Per-connection memory follows from it.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Limits on connections, as opposed to requests (see [`crate::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Longest a client may take to send a request's headers, counted from when the connection
    /// opened or its previous response was done. Slow-header clients are closed after it.
    pub header_read_timeout: Duration,
    /// A keep-alive connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// Most connections open at once. At the cap, a connection with no request in flight is
    /// closed to make room for a new one; when every connection is busy, new ones wait in the
    /// listen backlog until one closes (the timeouts here make sure one does).
    pub max_connections: usize,
    /// Most connections open at once from one client address (an IPv6 /64). The TCP peer
    /// counts: behind a load balancer every connection comes from the balancer's few
    /// addresses, so raise it to about `max_connections` divided by their number.
    pub max_connections_per_address: usize,
    /// A client that does not take a byte of its answer for this long is disconnected.
    pub write_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(DEFAULT_HEADER_READ_TIMEOUT_SECS),
            idle_timeout: Duration::from_secs(DEFAULT_IDLE_TIMEOUT_SECS),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            write_timeout: Duration::from_secs(DEFAULT_WRITE_TIMEOUT_SECS),
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
    #[error("the connection cap per address must be at least 1")]
    ZeroConnectionsPerAddress,
    #[error("the write timeout must be at least 1 ms")]
    ZeroWriteTimeout,
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
        if self.max_connections_per_address == 0 {
            return Err(LimitsError::ZeroConnectionsPerAddress);
        }
        if self.write_timeout.is_zero() {
            return Err(LimitsError::ZeroWriteTimeout);
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
        .max_buf_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    // Responses go out in one write; without TCP_NODELAY a reply can wait for the peer's
    // delayed ACK of the previous one.
    let mut listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
        }
    });
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let registry = Registry::new(limits.max_connections_per_address);
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // axum's Listener retries accept errors itself (backing off on EMFILE).
        let (io, remote) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        // One address may not hold every slot: past its cap it is closed at once.
        let Some(ticket) = registry.admit(remote.ip()) else {
            tracing::debug!(%remote, "closed a connection over the per-address cap");
            drop(io);
            continue;
        };
        // At the cap, a connection with no request in flight makes room; when all are busy,
        // this one waits for a slot (and new ones wait in the backlog meanwhile).
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Asked again while waiting: a busy connection may have gone idle since.
                let waited = loop {
                    registry.evict_one();
                    tokio::select! {
                        permit = Arc::clone(&slots).acquire_owned() => break permit.ok(),
                        () = tokio::time::sleep(ROOM_RETRY) => {}
                        () = &mut shutdown => break None,
                    }
                };
                match waited {
                    Some(permit) => permit,
                    None => break,
                }
            }
        };
        registry.enlist(&ticket);
        let connection = Connection {
            http: http.clone(),
            app: app.clone(),
            remote,
            idle_timeout: limits.idle_timeout,
            write_timeout: limits.write_timeout,
            close_within: limits.header_read_timeout,
            stop: stop.clone(),
        };
        tasks.spawn(async move {
            connection.run(io, ticket).await;
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

/// At the cap with every connection busy, how often the waiting accept looks again for one
/// that has gone idle.
const ROOM_RETRY: Duration = Duration::from_millis(50);

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
    write_timeout: Duration,
    /// Once asked to close, how long a connection may take to finish its last response (a
    /// client that stops reading would otherwise hold it forever).
    close_within: Duration,
    stop: CancellationToken,
}

impl Connection {
    async fn run(self, io: tokio::net::TcpStream, ticket: Ticket) {
        let activity = Arc::clone(&ticket.activity);
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
        // A client that stops taking its answer holds the connection and the answer's memory
        // only until the write timeout.
        let mut io = TimeoutStream::new(io);
        io.set_write_timeout(Some(self.write_timeout));
        let connection = self.http.serve_connection(
            TokioIo::new(Box::pin(io)),
            TowerToHyperService::new(service),
        );
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
                // Room is needed: a connection with no request in flight closes at once (one
                // that began a request since it was chosen finishes it first).
                () = ticket.evict.cancelled(), if closing.is_none() => {
                    tracing::debug!(%remote, "closed an idle connection to make room");
                    // Never a whole request yet (perhaps part of one): dropped now, since hyper
                    // would wait for the rest until the header timeout.
                    if activity.never_used() {
                        break None;
                    }
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
        let no_room_per_address = ConnectionLimits {
            max_connections_per_address: 0,
            ..ConnectionLimits::default()
        };
        assert_eq!(
            no_room_per_address.validate(),
            Err(LimitsError::ZeroConnectionsPerAddress)
        );
        let no_write_time = ConnectionLimits {
            write_timeout: Duration::ZERO,
            ..ConnectionLimits::default()
        };
        assert_eq!(no_write_time.validate(), Err(LimitsError::ZeroWriteTimeout));
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
