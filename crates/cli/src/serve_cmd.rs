//! `cruddur serve` (the API against the configured database) and `cruddur up` (embedded
//! cluster or CONNECTION_URL → migrate → seed if empty → serve).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use api::{AppState, AuthorMode, RouterOptions};
use axum::http::HeaderValue;
use db::PoolSettings;

use crate::output;
use crate::target::Target;

/// Default listen address: loopback, the original's port.
pub const DEFAULT_BIND: &str = "127.0.0.1:4567";

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Dev mode (no Cognito) is meant for loopback only.
    #[arg(long, env = "BIND_ADDR", default_value = DEFAULT_BIND)]
    pub bind: SocketAddr,
    /// Browser origins allowed by CORS, comma-separated (e.g. https://cruddur.example.com). When
    /// unset, dev mode allows the Cruddur frontend's dev server (http://localhost:3000 and
    /// http://127.0.0.1:3000) and cognito mode allows none.
    #[arg(long, env = "FRONTEND_URL")]
    pub frontend_url: Option<String>,
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
    /// Purge expired cruds (as `cruddur db purge` does, one bounded run) every this many
    /// seconds; 0 (the default) never.
    #[arg(long, env = "PURGE_EVERY_SECS", default_value_t = 0)]
    pub purge_every_secs: u64,
    /// Read the home feed's first page from the database on every request instead of keeping
    /// it in memory (kept exact by LISTEN/NOTIFY; see the README's "Feed cache").
    #[arg(long, env = "NO_FEED_CACHE")]
    pub no_feed_cache: bool,
    /// New cruds written at once, each lane one statement; creates that arrive while every lane
    /// is busy are written together, with one commit.
    #[arg(long, env = "DB_CREATE_LANES", default_value_t = db::CreateQueueSettings::default().lanes)]
    pub db_create_lanes: usize,
    /// Replies a feed or user-page item carries, its newest (replies_count stays the total; the
    /// status page pages through them all). Keeps every page bounded whatever one crud attracts.
    #[arg(long, env = "FEED_ITEM_REPLIES", default_value_t = db::activities::DEFAULT_ITEM_REPLIES as u8, value_parser = clap::value_parser!(u8).range(0..=20))]
    pub feed_item_replies: u8,
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
    /// Most connections open at once; more wait in the listen backlog until one closes.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = api::server::DEFAULT_MAX_CONNECTIONS, value_parser = at_least_one())]
    pub max_connections: usize,
    /// Writes (create, reply, profile update) allowed per client address: N/window, refilled
    /// steadily (window in s, m or h).
    #[arg(long, env = "WRITE_LIMIT_PER_ADDRESS", default_value = api::rate_limit::DEFAULT_PER_ADDRESS)]
    pub write_limit_per_address: api::rate_limit::Rate,
    /// Writes allowed per author, N/window like the per-address limit.
    #[arg(long, env = "WRITE_LIMIT_PER_AUTHOR", default_value = api::rate_limit::DEFAULT_PER_AUTHOR)]
    pub write_limit_per_author: api::rate_limit::Rate,
    /// Proxies in front of the server that append the client to X-Forwarded-For (an AWS load
    /// balancer: 1). 0: the client is the TCP peer and X-Forwarded-For is ignored.
    #[arg(long, env = "TRUST_PROXY_HOPS", default_value_t = 0)]
    pub trust_proxy_hops: usize,
    /// Turn the write rate limits off (for benchmarks that write from one address). Unsafe on a
    /// server anyone can reach.
    #[arg(long)]
    pub no_write_limits: bool,
    /// After SIGTERM/Ctrl-C, how long in-flight requests may finish.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 10)]
    pub shutdown_timeout_secs: u64,
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// A count that must be at least 1 (0 would refuse everything; refused at start, not raised).
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

/// Who may write: cognito mode when a user pool and its app client are configured, else dev.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthArgs {
    /// Cognito user pool id (e.g. us-east-1_AbCdEf); with the client id, turns on cognito mode.
    #[arg(long, env = "AWS_COGNITO_USER_POOL_ID")]
    pub cognito_user_pool_id: Option<String>,
    /// The pool's app client id that access tokens must carry.
    #[arg(long, env = "AWS_COGNITO_USER_POOL_CLIENT_ID")]
    pub cognito_client_id: Option<String>,
    /// Where the pool's signing keys are (default: the pool's URL at cognito-idp.<region>.amazonaws.com).
    #[arg(long, env = "AWS_COGNITO_JWKS_URL")]
    pub cognito_jwks_url: Option<String>,
    /// A token with an unknown key id refetches the keys at most this often.
    #[arg(long, env = "AWS_COGNITO_JWKS_MIN_REFRESH_SECS", default_value_t = api::cognito::DEFAULT_JWKS_MIN_REFRESH_SECS)]
    pub cognito_jwks_min_refresh_secs: u64,
    /// Let dev mode (no authentication: anyone can post as anyone) listen on a non-loopback
    /// address. Without it, dev mode refuses to.
    #[arg(long)]
    pub allow_dev_auth_on_network: bool,
}

impl AuthArgs {
    /// The author mode these settings ask for; starts fetching the pool's keys in cognito mode.
    fn author_mode(&self) -> anyhow::Result<AuthorMode> {
        let pool = self
            .cognito_user_pool_id
            .as_deref()
            .filter(|v| !v.is_empty());
        let client = self.cognito_client_id.as_deref().filter(|v| !v.is_empty());
        let (pool, client) = match (pool, client) {
            (None, None) => return Ok(AuthorMode::Dev),
            (Some(pool), Some(client)) => (pool, client),
            _ => anyhow::bail!(
                "set both AWS_COGNITO_USER_POOL_ID and AWS_COGNITO_USER_POOL_CLIENT_ID for cognito mode, or neither for dev mode"
            ),
        };
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .ok();
        let mut config = api::cognito::CognitoConfig::new(pool, client, region.as_deref())?;
        if let Some(url) = self.cognito_jwks_url.as_deref().filter(|u| !u.is_empty()) {
            config.set_jwks_url(url)?;
        }
        if self.cognito_jwks_min_refresh_secs == 0 {
            anyhow::bail!("AWS_COGNITO_JWKS_MIN_REFRESH_SECS must be at least 1 (0 would let every forged key id fetch the keys)");
        }
        config.min_refresh = Duration::from_secs(self.cognito_jwks_min_refresh_secs);
        let verifier = std::sync::Arc::new(api::cognito::Verifier::new(config)?);
        let prefetch = std::sync::Arc::clone(&verifier);
        // Not awaited: the server starts even when the keys cannot be fetched yet.
        tokio::spawn(async move { prefetch.prefetch().await });
        Ok(AuthorMode::Cognito(verifier))
    }
}

/// `up`'s options: the server's, and whether demo users may be seeded outside the embedded
/// cluster.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub demo_users: crate::db_cmd::DemoUsersArgs,
}

/// `up`: prepare the database, seed an empty one (demo users only where allowed), then serve.
pub async fn up(target: Target, args: UpArgs) -> anyhow::Result<()> {
    output::heading("up");
    if target.cluster.is_some() {
        crate::db_cmd::ensure_database(&target).await?;
    }
    crate::db_cmd::migrate(&target).await?;
    let client = db::pool::connect(&target.settings).await?;
    let counts = db::admin::count_rows(&client).await?;
    drop(client);
    if counts.is_none_or(|c| c.users == 0) {
        if target.allows_demo_users(args.demo_users.allow_demo_users) {
            crate::db_cmd::seed(&target, None).await?;
        } else {
            crate::db_cmd::skip_seed(&target);
        }
    }
    serve(target, args.serve).await
}

pub async fn serve(target: Target, args: ServeArgs) -> anyhow::Result<()> {
    let tuning = PoolSettings {
        max_size: args.db_pool_max_size,
        acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms),
        statement_timeout: Duration::from_millis(args.db_statement_timeout_ms),
        max_lifetime: Duration::from_secs(args.db_max_connection_lifetime_secs),
    };
    let pool = db::pool::build_pool(&target.settings, &tuning)?;
    if let Err(e) = db::health::ping(&pool).await {
        tracing::warn!(error = %e, "the database does not answer yet; serving 503 until it does");
    }
    let author_mode = args.auth.author_mode()?;
    if matches!(author_mode, AuthorMode::Dev)
        && !args.bind.ip().is_loopback()
        && !args.auth.allow_dev_auth_on_network
    {
        anyhow::bail!(
            "refusing to serve dev mode (no authentication: anyone can post as anyone) on {}; \
             bind a loopback address, configure Cognito (AWS_COGNITO_USER_POOL_ID and \
             AWS_COGNITO_USER_POOL_CLIENT_ID), or pass --allow-dev-auth-on-network",
            args.bind
        );
    }
    let frontend_origins = match args
        .frontend_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    {
        Some(list) => api::cors::parse_origins(list)?,
        // Out of the box, the Cruddur frontend's dev server may call a dev-mode API.
        None if matches!(author_mode, AuthorMode::Dev) => api::cors::DEV_FRONTEND_ORIGINS
            .iter()
            .map(|o| HeaderValue::from_static(o))
            .collect(),
        None => Vec::new(),
    };
    let write_limits = if args.no_write_limits {
        tracing::warn!("write rate limits are off (--no-write-limits)");
        api::rate_limit::WriteLimits::OFF
    } else {
        api::rate_limit::WriteLimits {
            per_address: Some(args.write_limit_per_address),
            per_author: Some(args.write_limit_per_author),
            trust_proxy_hops: args.trust_proxy_hops,
        }
    };
    let mut state = AppState::new(
        pool.clone(),
        author_mode.clone(),
        db::CreateQueueSettings {
            lanes: args.db_create_lanes,
            ..db::CreateQueueSettings::default()
        },
        write_limits,
    );
    state.item_replies = i64::from(args.feed_item_replies);
    if args.purge_every_secs > 0 {
        tokio::spawn(purge_periodically(
            pool.clone(),
            Duration::from_secs(args.purge_every_secs),
        ));
    }
    if !args.no_feed_cache {
        let listen = target
            .settings
            .clone()
            .with_dead_peer_detection(Duration::from_millis(args.db_statement_timeout_ms));
        state = state.with_feed_cache(&listen);
    }
    let connection_limits = api::server::ConnectionLimits {
        header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
        idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        max_connections: args.max_connections,
    };
    connection_limits.validate()?;
    let app = api::router(
        state,
        &RouterOptions {
            frontend_origins: frontend_origins.clone(),
            limits: api::limits::Limits {
                request_timeout: Duration::from_secs(args.request_timeout_secs),
                max_in_flight: args.max_in_flight,
            },
        },
    );
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    if matches!(author_mode, AuthorMode::Dev) && !addr.ip().is_loopback() {
        tracing::warn!(%addr, "dev mode on a non-loopback address (--allow-dev-auth-on-network): anyone who can reach it can post as any user");
    }
    let cors: Vec<&str> = frontend_origins
        .iter()
        .filter_map(|o| o.to_str().ok())
        .collect();
    let cors = if cors.is_empty() {
        "none (cross-origin calls refused; set FRONTEND_URL)".to_owned()
    } else {
        cors.join(", ")
    };
    let write_limits = match (write_limits.per_address, write_limits.per_author) {
        (Some(address), Some(author)) => format!(
            "{address} per address, {author} per author, {} trusted proxy hops",
            write_limits.trust_proxy_hops
        ),
        _ => "off".to_owned(),
    };
    tracing::info!(%addr, mode = author_mode.describe(), database = %target.url.masked(), cors_origins = %cors, %write_limits, "serving");
    output::line(format!("cruddur is up: http://{addr}/api/activities/home"));
    output::line(format!("web page: http://{addr}/"));
    let drain = api::server::serve(
        listener,
        app,
        connection_limits,
        shutdown_signal(),
        Duration::from_secs(args.shutdown_timeout_secs),
    )
    .await?;
    if let api::server::Drain::TimedOut { open } = drain {
        tracing::warn!(
            open,
            grace_secs = args.shutdown_timeout_secs,
            "requests still running after the grace period; exiting"
        );
    }
    pool.close();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
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
            crate::db_cmd::DEFAULT_PURGE_BATCH,
            crate::db_cmd::DEFAULT_PURGE_MAX_BATCHES,
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
