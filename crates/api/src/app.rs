//! The service, wired in one place. [`App::build`] turns one typed [`AppConfig`] into the pools,
//! reads, create queue, feed cache, write limiter, router and a bound listener;
//! [`App::run_until`] serves it. `cruddur serve`, `cruddur up` and every test that runs the
//! service start it here, so what the tests run is what production runs.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::Router;
use tokio::net::TcpListener;

use crate::author::AuthorMode;
use crate::cognito::{CognitoConfig, Verifier, VerifyError};
use crate::feed_cache::FeedCache;
use crate::limits::Limits;
use crate::rate_limit::WriteLimits;
use crate::router::RouterOptions;
use crate::server::{ConnectionLimits, Drain, LimitsError};
use crate::sign_in::{SignIn, SignInConfig};
use crate::state::AppState;
use crate::{cors, routes};

/// Default port of [`HttpConfig::bind`] (on loopback): the original's.
pub const DEFAULT_PORT: u16 = 4567;
/// Default for [`HttpConfig::shutdown_grace`].
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 10;

/// Everything the service is built from; each section belongs to the crate or module that
/// uses it.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub database: db::DatabaseConfig,
    pub http: HttpConfig,
    pub author: AuthorConfig,
    pub write_limits: WriteLimits,
    pub feed: FeedConfig,
    /// Purge expired cruds (one bounded run, as `cruddur db purge`) this often; `None`: never.
    pub purge_every: Option<Duration>,
    /// Sign-in on the page through the user pool's managed login (cognito mode only); `None`:
    /// the page has no sign-in.
    pub sign_in: Option<SignInConfig>,
}

impl AppConfig {
    /// Dev mode on 127.0.0.1, a port the system picks, every other setting its default.
    pub fn on_loopback(database: db::DatabaseConfig) -> Self {
        Self {
            database,
            http: HttpConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                ..HttpConfig::default()
            },
            author: AuthorConfig::Dev {
                allow_on_network: false,
            },
            write_limits: WriteLimits::default(),
            feed: FeedConfig::default(),
            purge_every: None,
            sign_in: None,
        }
    }
}

/// The HTTP side: where to listen, and the limits on connections and requests.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub bind: SocketAddr,
    pub connections: ConnectionLimits,
    pub requests: Limits,
    /// Browser origins allowed by CORS; `None`: the author mode's default (dev mode: the
    /// Cruddur frontend's dev server, [`cors::DEV_FRONTEND_ORIGINS`]; cognito mode: none).
    pub cors_origins: Option<Vec<HeaderValue>>,
    /// After the shutdown signal, how long in-flight requests may finish.
    pub shutdown_grace: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            connections: ConnectionLimits::default(),
            requests: Limits::default(),
            cors_origins: None,
            shutdown_grace: Duration::from_secs(DEFAULT_SHUTDOWN_GRACE_SECS),
        }
    }
}

/// Who may write (see [`crate::author`]).
#[derive(Debug, Clone)]
pub enum AuthorConfig {
    /// The body's `user_handle`, unauthenticated: refused off loopback unless
    /// `allow_on_network`.
    Dev { allow_on_network: bool },
    /// The user of a verified access token of this pool and app client.
    Cognito(CognitoConfig),
}

/// The home feed.
#[derive(Debug, Clone, Copy)]
pub struct FeedConfig {
    /// Serve the first page from memory, kept exact by `LISTEN/NOTIFY` (needs
    /// [`db::DatabaseConfig::direct`]).
    pub cache: bool,
    /// Replies a feed or user-page item carries, its newest.
    pub item_replies: i64,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            cache: false,
            item_replies: db::activities::DEFAULT_ITEM_REPLIES,
        }
    }
}

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    ConnectionLimits(#[from] LimitsError),
    #[error("the database settings are not usable")]
    Database(#[from] db::DbError),
    #[error("the Cognito verifier cannot be built")]
    Verifier(#[from] VerifyError),
    #[error("sign-in on the page cannot be set up")]
    SignIn(#[from] crate::sign_in::BuildError),
    #[error("sign-in on the page (COGNITO_DOMAIN) needs cognito mode: set AWS_COGNITO_USER_POOL_ID and AWS_COGNITO_USER_POOL_CLIENT_ID")]
    SignInWithoutCognito,
    #[error(
        "refusing to serve dev mode (no authentication: anyone can post as anyone) on {0}; \
         bind a loopback address, configure Cognito (AWS_COGNITO_USER_POOL_ID and \
         AWS_COGNITO_USER_POOL_CLIENT_ID), or pass --allow-dev-auth-on-network"
    )]
    DevModeOnNetwork(SocketAddr),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The built service: listening, not yet serving.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    state: AppState,
    database: db::Database,
    connections: ConnectionLimits,
    shutdown_grace: Duration,
    purge_every: Option<Duration>,
    summary: Summary,
}

impl App {
    /// Builds the whole service from `config` and binds its listener (port 0: the system
    /// picks one, see [`Self::local_addr`]). Background tasks (standby watchers, the create
    /// queue, the feed listener, the JWKS prefetch) start on the current runtime.
    pub async fn build(config: AppConfig) -> Result<Self, StartError> {
        config.http.connections.validate()?;
        let connections = fit_to_descriptors(config.http.connections, &config.database);
        let author_mode = author_mode(&config.author, config.http.bind)?;
        let sign_in = match (&config.sign_in, &author_mode) {
            (None, _) => None,
            (Some(sign_in), AuthorMode::Cognito(verifier)) => Some(Arc::new(SignIn::new(
                sign_in.clone(),
                Arc::clone(verifier),
            )?)),
            (Some(_), AuthorMode::Dev) => return Err(StartError::SignInWithoutCognito),
        };
        let database = config.database.start()?;
        if let Err(e) = db::health::ping(&database.pool).await {
            tracing::warn!(error = %e, "the database does not answer yet; serving 503 until it does");
        }
        let cors_origins = match (&config.http.cors_origins, &author_mode) {
            (Some(list), _) => list.clone(),
            // Out of the box, the Cruddur frontend's dev server may call a dev-mode API.
            (None, AuthorMode::Dev) => cors::DEV_FRONTEND_ORIGINS
                .iter()
                .map(|o| HeaderValue::from_static(o))
                .collect(),
            (None, AuthorMode::Cognito(_)) => Vec::new(),
        };
        if config.write_limits.per_address.is_none() && config.write_limits.per_author.is_none() {
            tracing::warn!("write rate limits are off");
        }
        let feed_cache = match (config.feed.cache, &database.listen) {
            (false, _) => None,
            (true, Some(listen)) => Some(FeedCache::start(
                database.reads.clone(),
                listen,
                routes::DEFAULT_PAGE_SIZE,
                config.feed.item_replies,
            )),
            (true, None) => {
                tracing::warn!(
                    "the feed cache is off: behind a transaction pooler its LISTEN needs DIRECT_CONNECTION_URL"
                );
                None
            }
        };
        let state = AppState {
            pool: database.pool.clone(),
            reads: database.reads.clone(),
            writes: crate::writes::Writes::new(
                database.pool.clone(),
                database.creates.clone(),
                feed_cache.clone(),
            ),
            author_mode,
            item_replies: config.feed.item_replies,
            write_limiter: crate::rate_limit::WriteLimiter::new(config.write_limits),
            feed_cache,
            page_policy: crate::web::page_policy(sign_in.as_deref()),
            sign_in,
        };
        let router = crate::router::router(
            state.clone(),
            &RouterOptions {
                frontend_origins: cors_origins.clone(),
                limits: config.http.requests,
                loopback_hosts_only: matches!(
                    config.author,
                    AuthorConfig::Dev {
                        allow_on_network: false
                    }
                ),
            },
        );
        let listener = TcpListener::bind(config.http.bind)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.http.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.http.bind,
            source,
        })?;
        if matches!(state.author_mode, AuthorMode::Dev) && !addr.ip().is_loopback() {
            tracing::warn!(%addr, "dev mode on a non-loopback address (--allow-dev-auth-on-network): anyone who can reach it can post as any user");
        }
        let summary = Summary::of(&config, &cors_origins);
        Ok(Self {
            listener,
            addr,
            router,
            state,
            database,
            connections,
            shutdown_grace: config.http.shutdown_grace,
            purge_every: config.purge_every,
            summary,
        })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The service's router, for requests sent without a socket (`oneshot` in tests). Requests
    /// that way carry no peer address: put `MockConnectInfo` over it.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The first-page cache, when it is on.
    pub fn feed_cache(&self) -> Option<&FeedCache> {
        self.state.feed_cache.as_ref()
    }

    /// Who writes, as the service checks it.
    pub fn author_mode(&self) -> &AuthorMode {
        &self.state.author_mode
    }

    /// Where reads go (and how many went where).
    pub fn reads(&self) -> &db::Reads {
        &self.database.reads
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish for the grace
    /// period, and closes the pools.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> Drain {
        tracing::info!(
            addr = %self.addr,
            mode = self.state.author_mode.describe(),
            database = %self.summary.database,
            read_standbys = %self.summary.standbys,
            pooler = ?self.summary.pooler,
            cors_origins = %self.summary.cors,
            write_limits = %self.summary.write_limits,
            sign_in = %self.summary.sign_in,
            "serving"
        );
        let purge = self
            .purge_every
            .map(|every| tokio::spawn(purge_periodically(self.database.pool.clone(), every)));
        let drain = crate::server::serve(
            self.listener,
            self.router,
            self.connections,
            shutdown,
            self.shutdown_grace,
        )
        .await;
        if let Some(purge) = purge {
            purge.abort();
        }
        // The limits were validated in `build`.
        let drain = drain.unwrap_or(Drain::Complete);
        if let Drain::TimedOut { open } = drain {
            tracing::warn!(
                open,
                grace_secs = self.shutdown_grace.as_secs(),
                "requests still running after the grace period; exiting"
            );
        }
        self.database.close();
        drain
    }
}

/// `limits` with the connection cap lowered, if need be, to what the descriptor limit (raised
/// to the hard limit first) leaves after what the service itself needs.
fn fit_to_descriptors(
    mut limits: ConnectionLimits,
    database: &db::DatabaseConfig,
) -> ConnectionLimits {
    let Some(soft_limit) = crate::descriptors::raise_soft_limit() else {
        return limits;
    };
    let reserve = crate::descriptors::reserve_for(database);
    let fit = crate::descriptors::connections_within(limits.max_connections, soft_limit, reserve);
    if fit < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            max_connections = fit,
            soft_limit,
            reserve,
            "MAX_CONNECTIONS lowered to what the open-file limit allows (raise it with ulimit -n)"
        );
        limits.max_connections = fit;
    } else {
        tracing::debug!(soft_limit, reserve, "open-file limit");
    }
    limits
}

/// The author mode `config` asks for; in cognito mode the pool's keys start being fetched.
fn author_mode(config: &AuthorConfig, bind: SocketAddr) -> Result<AuthorMode, StartError> {
    match config {
        AuthorConfig::Dev { allow_on_network } => {
            if !bind.ip().is_loopback() && !allow_on_network {
                return Err(StartError::DevModeOnNetwork(bind));
            }
            Ok(AuthorMode::Dev)
        }
        AuthorConfig::Cognito(cognito) => {
            let verifier = Arc::new(Verifier::new(cognito.clone())?);
            let prefetch = Arc::clone(&verifier);
            // Not awaited: the server starts even when the keys cannot be fetched yet.
            tokio::spawn(async move { prefetch.prefetch().await });
            Ok(AuthorMode::Cognito(verifier))
        }
    }
}

/// The settings the "serving" log line states, in words.
#[derive(Debug)]
struct Summary {
    database: String,
    standbys: String,
    pooler: db::Pooler,
    cors: String,
    write_limits: String,
    sign_in: String,
}

impl Summary {
    fn of(config: &AppConfig, cors_origins: &[HeaderValue]) -> Self {
        let database = format!(
            "{}/{}",
            config.database.primary.host_label(),
            config.database.primary.dbname()
        );
        let standbys: Vec<String> = config
            .database
            .standbys
            .iter()
            .map(db::ConnectSettings::host_label)
            .collect();
        let standbys = if standbys.is_empty() {
            "none".to_owned()
        } else {
            standbys.join(", ")
        };
        let cors: Vec<&str> = cors_origins
            .iter()
            .filter_map(|o| o.to_str().ok())
            .collect();
        let cors = if cors.is_empty() {
            "none (cross-origin calls refused; set FRONTEND_URL)".to_owned()
        } else {
            cors.join(", ")
        };
        let limits = &config.write_limits;
        let write_limits = match (limits.per_address, limits.per_author) {
            (Some(address), Some(author)) => format!(
                "{address} per address, {author} per author, {} trusted proxy hops",
                limits.trust_proxy_hops
            ),
            _ => "off".to_owned(),
        };
        let sign_in = config.sign_in.as_ref().map_or_else(
            || "off".to_owned(),
            |s| format!("{} through {}", s.site_origin(), s.managed_login_origin()),
        );
        Self {
            database,
            standbys,
            pooler: config.database.pooler(),
            cors,
            write_limits,
            sign_in,
        }
    }
}

/// One bounded purge run every `every`, for as long as the server runs; a failed run is logged
/// and the next one tries again.
async fn purge_periodically(pool: db::Pool, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match db::activities::purge_expired(
            &pool,
            db::activities::DEFAULT_PURGE_BATCH,
            db::activities::DEFAULT_PURGE_MAX_BATCHES,
        )
        .await
        {
            Ok(report) if report.cruds > 0 => {
                tracing::info!(
                    cruds = report.cruds,
                    batches = report.batches,
                    more_left = report.more_left,
                    "purged expired cruds"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purge of expired cruds failed"),
        }
    }
}
