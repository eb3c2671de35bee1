//! Every route of the service and the layers they run inside.

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::routing::{get, post, put};
use axum::Router;

use crate::error::ApiError;
use crate::routes::paths;
use crate::state::AppState;
use crate::{
    after_write, body, cors, feed_cache, hit_lane, host_check, limits, observe, openapi,
    rate_limit, routes, web,
};

/// Options of the router that are not handler state.
#[derive(Debug, Clone, Default)]
pub struct RouterOptions {
    /// Browser origins allowed by CORS (see [`cors`]); none: cross-origin calls are refused.
    pub frontend_origins: Vec<HeaderValue>,
    /// Request timeout and in-flight cap (see [`limits`]).
    pub limits: limits::Limits,
    /// Answer only requests whose `Host` is a loopback name (dev mode on loopback: see
    /// [`host_check`]).
    pub loopback_hosts_only: bool,
}

/// Every route of the service over `state`, under [`serve_layers`] (and the feed's fast lane
/// when the cache is on).
pub(crate) fn router(state: AppState, options: &RouterOptions) -> Router {
    let limit_writes = || {
        axum::middleware::from_fn_with_state(
            std::sync::Arc::clone(&state.write_limiter),
            rate_limit::middleware::limit_writes,
        )
    };
    // A successful write's answer carries the proof its author's next read may show.
    let after_writes = || axum::middleware::from_fn(after_write::attach_proof);
    let routes = Router::new()
        .route(paths::HEALTH_CHECK, get(routes::health::health_check))
        .route(paths::HOME, get(routes::activities::home))
        .route(
            paths::ACTIVITIES,
            post(routes::activities::create)
                .route_layer(limit_writes())
                .route_layer(after_writes()),
        )
        .route(paths::USER_PAGE, get(routes::users::page))
        .route(paths::STATUS, get(routes::activities::show))
        .route(
            paths::REPLY,
            post(routes::activities::reply)
                .route_layer(limit_writes())
                .route_layer(after_writes()),
        )
        .route(paths::USER_SHORT, get(routes::users::short))
        .route(
            paths::PROFILE_UPDATE,
            put(routes::profile::update)
                .post(routes::profile::update)
                .route_layer(limit_writes())
                .route_layer(after_writes()),
        )
        .route(paths::OPENAPI, get(openapi::serve))
        .merge(web::routes());
    let routes = match state.sign_in {
        Some(_) => routes.merge(web::sign_in_routes::routes()),
        None => routes,
    }
    .with_state(state.clone());
    let app = serve_layers(routes, options);
    let app = match state.feed_cache {
        Some(cache) => with_hit_lane(cache, app, options),
        None => app,
    };
    if options.loopback_hosts_only {
        // Outermost, so the fast lane is behind it too.
        app.layer(axum::middleware::from_fn(host_check::loopback_hosts_only))
    } else {
        app
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
