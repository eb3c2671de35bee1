//! Cruddur's HTTP API (axum). No SQL here: handlers validate input with `domain`, call `db`,
//! and shape responses. Errors are JSON arrays of codes (see [`error`]).

pub mod author;
pub mod body;
pub mod cognito;
pub mod cors;
pub mod error;
pub mod feed_cache;
pub mod hit_lane;
pub mod limits;
pub mod observe;
pub mod openapi;
pub mod path;
pub mod rate_limit;
pub mod responses;
pub mod routes;
pub mod server;
pub mod web;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::routing::{get, post, put};
use axum::Router;
use db::{CreateQueue, CreateQueueSettings, Pool};

pub use author::AuthorMode;
pub use error::ApiError;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The primary: writes, and reads that must see the caller's own write.
    pub pool: Pool,
    /// Reads that may come from a standby (feed, user, status pages, short cards).
    pub reads: db::Reads,
    /// New cruds go through here: concurrent creates share a statement and a commit.
    pub creates: CreateQueue,
    pub author_mode: AuthorMode,
    /// Replies a feed or user-page item carries (its newest).
    pub item_replies: i64,
    /// Write allowances per client address and per author.
    pub write_limiter: std::sync::Arc<rate_limit::WriteLimiter>,
    /// The home feed's first page from memory; `None`: every request reads the database.
    pub feed_cache: Option<feed_cache::FeedCache>,
}

impl AppState {
    /// State over `pool`; starts the create queue and the write limiter's sweeper on the
    /// current tokio runtime.
    pub fn new(
        pool: Pool,
        author_mode: AuthorMode,
        creates: CreateQueueSettings,
        write_limits: rate_limit::WriteLimits,
    ) -> Self {
        Self {
            creates: CreateQueue::start(pool.clone(), creates),
            reads: db::Reads::primary_only(pool.clone()),
            pool,
            author_mode,
            item_replies: db::activities::DEFAULT_ITEM_REPLIES,
            write_limiter: rate_limit::WriteLimiter::new(write_limits),
            feed_cache: None,
        }
    }

    /// Reads from standbys through `reads` (its primary must be this state's pool). Call before
    /// [`Self::with_feed_cache`].
    pub fn with_reads(mut self, reads: db::Reads) -> Self {
        self.reads = reads;
        self
    }

    /// Serves the home feed's first page from memory, kept exact by `LISTEN` on a connection
    /// made with `settings` (see [`feed_cache`]). Call after setting `item_replies`.
    pub fn with_feed_cache(mut self, settings: &db::ConnectSettings) -> Self {
        self.feed_cache = Some(feed_cache::FeedCache::start(
            self.reads.clone(),
            settings,
            routes::DEFAULT_PAGE_SIZE,
            self.item_replies,
        ));
        self
    }

    /// Tells the feed cache that this process wrote something a feed page may show.
    pub fn wrote(&self) {
        if let Some(cache) = &self.feed_cache {
            cache.invalidate();
        }
    }
}

impl AppState {
    /// A write: resolves its author ([`AuthorMode::writer`]), counts it against the author's
    /// allowance, runs `write` as that author, and reports the allowance with the answer,
    /// success or refusal ([`rate_limit::limit_writes`] turns it into headers).
    pub async fn write_as(
        &self,
        headers: &axum::http::HeaderMap,
        body_handle: Option<&str>,
        write: impl AsyncFnOnce(Option<&str>) -> Result<axum::response::Response, ApiError>,
    ) -> Result<axum::response::Response, ApiError> {
        let author = self
            .author_mode
            .writer(&self.pool, headers, body_handle)
            .await?;
        let allowance = self.write_limiter.check_author(author.as_deref())?;
        let answer = write(author.as_deref()).await;
        Ok(rate_limit::with_author_allowance(answer, allowance))
    }
}

/// Options of the router that are not handler state.
#[derive(Debug, Clone, Default)]
pub struct RouterOptions {
    /// Browser origins allowed by CORS (see [`cors`]); none: cross-origin calls are refused.
    pub frontend_origins: Vec<HeaderValue>,
    /// Request timeout and in-flight cap (see [`limits`]).
    pub limits: limits::Limits,
}

pub fn router(state: AppState, options: &RouterOptions) -> Router {
    let limit_writes = || {
        axum::middleware::from_fn_with_state(
            std::sync::Arc::clone(&state.write_limiter),
            rate_limit::limit_writes,
        )
    };
    let routes = Router::new()
        .route("/api/health-check", get(routes::health::health_check))
        .route("/api/activities/home", get(routes::activities::home))
        .route(
            "/api/activities",
            post(routes::activities::create).route_layer(limit_writes()),
        )
        .route("/api/activities/@{handle}", get(routes::users::page))
        .route(
            "/api/activities/@{handle}/status/{uuid}",
            get(routes::activities::show),
        )
        .route(
            "/api/activities/{uuid}/reply",
            post(routes::activities::reply).route_layer(limit_writes()),
        )
        .route("/api/users/@{handle}/short", get(routes::users::short))
        .route(
            "/api/profile/update",
            put(routes::profile::update)
                .post(routes::profile::update)
                .route_layer(limit_writes()),
        )
        .route("/api/openapi.json", get(openapi::serve))
        .merge(web::routes())
        .with_state(state.clone());
    let app = serve_layers(routes, options);
    match state.feed_cache {
        Some(cache) => with_hit_lane(cache, app, options),
        None => app,
    }
}

/// `app` behind [`hit_lane`]: the cached first page answered before routing and the layers.
fn with_hit_lane(cache: feed_cache::FeedCache, app: Router, options: &RouterOptions) -> Router {
    let cors_headers = if options.frontend_origins.is_empty() {
        Ok(Vec::new())
    } else {
        cors::headers_without_origin(options.frontend_origins.clone())
    };
    match cors_headers {
        Ok(headers) => Router::new().fallback_service(hit_lane::HitLane::new(cache, headers, app)),
        Err(e) => {
            tracing::warn!(error = %e, "the feed's fast lane is off: every request takes the layers");
            app
        }
    }
}

/// What every route of the server runs inside, outermost last: limits and panic catching, the
/// request log line and request id, CORS. Public so tests can put routes of their own (a slow
/// or panicking handler) under exactly the server's layers.
pub fn serve_layers(routes: Router, options: &RouterOptions) -> Router {
    let app = routes
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body::MAX_BODY_BYTES));
    let mut app = limits::apply(app, &options.limits)
        // Outermost last: screen the client's id, set one, echo it, then trace inside.
        .layer(observe::trace())
        .layer(observe::propagate_request_id())
        .layer(observe::set_request_id())
        .layer(axum::middleware::map_request(observe::screen_request_id));
    if !options.frontend_origins.is_empty() {
        app = app.layer(cors::layer(options.frontend_origins.clone()));
    }
    app
}

async fn no_route() -> ApiError {
    ApiError::NoRoute
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
