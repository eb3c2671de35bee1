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
    /// Streaming standbys that serve reads (feed, user and status pages, short cards): one or
    /// more postgres:// URLs separated by spaces. Writes, and reads of one's own write, stay on
    /// the primary; a standby down or behind READ_MAX_LAG_MS is skipped.
    #[arg(
        long = "read-connection-url",
        env = "READ_CONNECTION_URL",
        hide_env_values = true,
        hide = true
    )]
    pub read_connection_url: Option<String>,
    /// A standby further behind the primary than this serves no reads (they go to the primary).
    #[arg(long, env = "READ_MAX_LAG_MS", default_value_t = db::reads::DEFAULT_READ_MAX_LAG_MS, value_parser = clap::value_parser!(u64).range(1..))]
    pub read_max_lag_ms: u64,
    /// What sits between cruddur and PostgreSQL: `none` (or a session-mode pooler) or
    /// `transaction` (PgBouncer pool_mode=transaction, RDS Proxy): unnamed statements, no
    /// session settings (put statement_timeout on the role), and LISTEN plus `up`'s migrations
    /// on DIRECT_CONNECTION_URL.
    #[arg(long, env = "DB_POOLER", default_value = "none")]
    pub db_pooler: db::Pooler,
    /// The primary itself, not through the pooler: the feed cache's LISTEN and `up`'s
    /// migrations use it. Needed with DB_POOLER=transaction (without it the feed cache is off).
    #[arg(
        long = "direct-connection-url",
        env = "DIRECT_CONNECTION_URL",
        hide_env_values = true,
        hide = true
    )]
    pub direct_connection_url: Option<String>,
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
    /// Start the embedded cluster's standby (`cruddur local standby start`) and read from it.
    #[arg(long)]
    pub read_local_standby: bool,
}

/// `up`: prepare the database, seed an empty one (demo users only where allowed), then serve.
pub async fn up(target: Target, mut args: UpArgs) -> anyhow::Result<()> {
    output::heading("up");
    refuse_passwords_in_argv(&args.serve)?;
    if target.cluster.is_some() {
        crate::db_cmd::ensure_database(&target).await?;
    }
    // Migrations hold a session advisory lock, and the seed prepares named statements: a
    // transaction pooler keeps neither, so behind one both go to the primary directly.
    let direct = match args.serve.db_pooler {
        db::Pooler::None => None,
        db::Pooler::Transaction => Some(direct_target(&target, &args.serve)?),
    };
    let admin = direct.as_ref().unwrap_or(&target);
    crate::db_cmd::migrate(admin).await?;
    let client = db::pool::connect(&admin.settings).await?;
    let counts = db::admin::count_rows(&client).await?;
    drop(client);
    if counts.is_none_or(|c| c.users == 0) {
        if target.allows_demo_users(args.demo_users.allow_demo_users) {
            crate::db_cmd::seed(admin, None).await?;
        } else {
            crate::db_cmd::skip_seed(&target);
        }
    }
    if args.read_local_standby {
        let Some(cluster) = &target.cluster else {
            anyhow::bail!("--read-local-standby reads from the embedded cluster's standby, but the database is {} ({}); set READ_CONNECTION_URL instead", target.source, target.url.masked());
        };
        let standby = cluster.standby()?;
        let running = standby
            .start()
            .context("cannot start the embedded cluster's standby")?;
        if running.started_now {
            output::line(format!("started the standby on 127.0.0.1:{}", running.port));
        }
        let url = standby.url(running.port, local_cluster::APP_DATABASE)?;
        args.serve.read_connection_url = Some(url.expose().to_owned());
    }
    serve_checked(target, args.serve).await
}

/// DIRECT_CONNECTION_URL as a target, required behind a transaction pooler.
fn direct_target(target: &Target, args: &ServeArgs) -> anyhow::Result<Target> {
    let Some(raw) = args
        .direct_connection_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
    else {
        anyhow::bail!(
            "DB_POOLER=transaction: migrations take a session advisory lock, which a transaction pooler does not keep; set DIRECT_CONNECTION_URL to the primary itself (not through the pooler)"
        );
    };
    let url = db::DatabaseUrl::new(raw);
    let settings = crate::target::with_env_password(
        url.parse().context("DIRECT_CONNECTION_URL is not usable")?,
    );
    Ok(Target {
        url,
        settings,
        source: "DIRECT_CONNECTION_URL",
        prod: target.prod,
        cluster: None,
    })
}

/// The standbys of READ_CONNECTION_URL.
fn read_urls(args: &ServeArgs) -> anyhow::Result<Vec<db::ConnectSettings>> {
    let Some(raw) = args.read_connection_url.as_deref() else {
        return Ok(Vec::new());
    };
    raw.split_whitespace()
        .enumerate()
        .map(|(i, one)| {
            db::DatabaseUrl::new(one)
                .parse()
                .map(crate::target::with_env_password)
                .with_context(|| format!("READ_CONNECTION_URL: URL {} is not usable", i + 1))
        })
        .collect()
}

/// Refuses the URL options' values that came from the command line with a password.
fn refuse_passwords_in_argv(args: &ServeArgs) -> anyhow::Result<()> {
    crate::target::refuse_password_in_argv(
        args.read_connection_url.as_deref(),
        "READ_CONNECTION_URL",
        "--read-connection-url",
    )?;
    crate::target::refuse_password_in_argv(
        args.direct_connection_url.as_deref(),
        "DIRECT_CONNECTION_URL",
        "--direct-connection-url",
    )
}

pub async fn serve(target: Target, args: ServeArgs) -> anyhow::Result<()> {
    refuse_passwords_in_argv(&args)?;
    serve_checked(target, args).await
}

async fn serve_checked(target: Target, args: ServeArgs) -> anyhow::Result<()> {
    let tuning = PoolSettings {
        max_size: args.db_pool_max_size,
        acquire_timeout: Duration::from_millis(args.db_acquire_timeout_ms),
        statement_timeout: Duration::from_millis(args.db_statement_timeout_ms),
        max_lifetime: Duration::from_secs(args.db_max_connection_lifetime_secs),
        pooler: args.db_pooler,
    };
    let pool = db::pool::build_pool(&target.settings, &tuning)?;
    let standbys = read_urls(&args)?;
    let reads = db::Reads::start(
        pool.clone(),
        &target.settings,
        &standbys,
        &tuning,
        Duration::from_millis(args.read_max_lag_ms),
    )?;
    let direct = match args.db_pooler {
        db::Pooler::None => Some(target.settings.clone()),
        // Unset: the feed cache is off (below); set but unusable: refused.
        db::Pooler::Transaction
            if args
                .direct_connection_url
                .as_deref()
                .is_none_or(|u| u.trim().is_empty()) =>
        {
            None
        }
        db::Pooler::Transaction => Some(direct_target(&target, &args)?.settings),
    };
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
    state = state.with_reads(reads.clone());
    if args.purge_every_secs > 0 {
        tokio::spawn(purge_periodically(
            pool.clone(),
            Duration::from_secs(args.purge_every_secs),
        ));
    }
    match (&direct, args.no_feed_cache) {
        (_, true) => {}
        // LISTEN needs a session of its own on the primary.
        (Some(direct), false) => {
            let listen = direct
                .clone()
                .with_dead_peer_detection(Duration::from_millis(args.db_statement_timeout_ms));
            state = state.with_feed_cache(&listen);
        }
        (None, false) => tracing::warn!(
            "the feed cache is off: behind a transaction pooler its LISTEN needs DIRECT_CONNECTION_URL"
        ),
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
    let standbys: Vec<String> = standbys
        .iter()
        .map(db::ConnectSettings::host_label)
        .collect();
    let standbys = if standbys.is_empty() {
        "none".to_owned()
    } else {
        standbys.join(", ")
    };
    tracing::info!(%addr, mode = author_mode.describe(), database = %target.url.masked(), read_standbys = %standbys, pooler = ?args.db_pooler, cors_origins = %cors, %write_limits, "serving");
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
    reads.close();
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
