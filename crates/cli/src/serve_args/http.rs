//! Where `serve` and `up` listen and the limits on connections and requests, turned into
//! [`api::HttpConfig`].

use std::net::SocketAddr;
use std::time::Duration;

/// Default listen address: loopback, the original's port.
pub(super) const DEFAULT_BIND: &str = "127.0.0.1:4567";

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct HttpArgs {
    /// Address to listen on. Dev mode (no Cognito) is meant for loopback only.
    #[arg(long, env = "BIND_ADDR", default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// Browser origins allowed by CORS, comma-separated (e.g. https://cruddur.example.com). When
    /// unset, dev mode allows the Cruddur frontend's dev server (http://localhost:3000 and
    /// http://127.0.0.1:3000) and cognito mode allows none.
    #[arg(long, env = "FRONTEND_URL")]
    pub frontend_url: Option<String>,
    /// Longest a request may take before it is answered 503 ["timeout"].
    #[arg(long, env = "REQUEST_TIMEOUT_SECS", default_value_t = api::limits::DEFAULT_REQUEST_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_secs: u64,
    /// Most requests handled at once; beyond it requests are answered 503 ["overloaded"] with
    /// Retry-After at once instead of queueing.
    #[arg(long, env = "MAX_IN_FLIGHT", default_value_t = api::limits::DEFAULT_MAX_IN_FLIGHT, value_parser = at_least_one())]
    pub max_in_flight: usize,
    /// Longest a client may take to send a request's headers, from when its connection opened
    /// or its previous response was done; slow-header clients are closed after it.
    #[arg(long, env = "HEADER_READ_TIMEOUT_SECS", default_value_t = api::server::DEFAULT_HEADER_READ_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// A keep-alive connection idle this long after a request is closed (at most the header-read
    /// timeout). Behind a load balancer, make the balancer's idle timeout shorter than this.
    #[arg(long, env = "IDLE_TIMEOUT_SECS", default_value_t = api::server::DEFAULT_IDLE_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Most connections open at once (lowered at start to what the open-file limit allows). At
    /// the cap an idle connection is closed to make room; when all are busy, new ones wait in
    /// the listen backlog until one closes.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = api::server::DEFAULT_MAX_CONNECTIONS, value_parser = at_least_one())]
    pub max_connections: usize,
    /// Most connections open at once from one client address (an IPv6 /64); more are closed at
    /// once. Behind a load balancer every connection comes from its few addresses: set this to
    /// about MAX_CONNECTIONS divided by their number.
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", default_value_t = api::server::DEFAULT_MAX_CONNECTIONS_PER_ADDRESS, value_parser = at_least_one())]
    pub max_connections_per_address: usize,
    /// A client that takes no byte of its answer for this long is disconnected.
    #[arg(long, env = "WRITE_TIMEOUT_SECS", default_value_t = api::server::DEFAULT_WRITE_TIMEOUT_SECS, value_parser = clap::value_parser!(u64).range(1..))]
    pub write_timeout_secs: u64,
    /// After SIGTERM/Ctrl-C, how long in-flight requests may finish.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = api::app::DEFAULT_SHUTDOWN_GRACE_SECS)]
    pub shutdown_timeout_secs: u64,
}

/// A count that must be at least 1 (0 would refuse everything; refused at start, not raised).
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

impl HttpArgs {
    pub(crate) fn config(&self) -> anyhow::Result<api::HttpConfig> {
        let cors_origins = self
            .frontend_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(api::cors::parse_origins)
            .transpose()?;
        Ok(api::HttpConfig {
            bind: self.bind,
            connections: api::server::ConnectionLimits {
                header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
                idle_timeout: Duration::from_secs(self.idle_timeout_secs),
                max_connections: self.max_connections,
                max_connections_per_address: self.max_connections_per_address,
                write_timeout: Duration::from_secs(self.write_timeout_secs),
            },
            requests: api::limits::Limits {
                request_timeout: Duration::from_secs(self.request_timeout_secs),
                max_in_flight: self.max_in_flight,
            },
            cors_origins,
            shutdown_grace: Duration::from_secs(self.shutdown_timeout_secs),
        })
    }
}
