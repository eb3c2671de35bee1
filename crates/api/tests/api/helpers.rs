//! `TestApp`: the service ([`api::App`]) on a fresh database, with one method per endpoint.

use api::{App, AppConfig};
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use test_db::TestDb;
use tower::ServiceExt;

pub(crate) const FRONTEND: &str = "http://localhost:3000";

pub(crate) struct TestApp {
    pub db: TestDb,
    /// [`Self::service`]'s router, as if every request came from [`TEST_PEER`].
    pub router: Router,
    /// The service as production builds it; bound to a port, serving only through `router`
    /// unless a test runs it.
    pub service: App,
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn codes(&self) -> Vec<String> {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not an array of codes ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

impl TestApp {
    /// A fresh, migrated database with the seed data, served as [`test_config`] says.
    pub(crate) async fn seeded() -> Self {
        Self::seeded_with(|_| {}).await
    }

    /// Seeded, served with [`test_config`] changed by `configure`.
    pub(crate) async fn seeded_with(configure: impl FnOnce(&mut AppConfig)) -> Self {
        let db = TestDb::new().await;
        db::seeds::seed(&mut db.client().await).await.unwrap();
        Self::start(db, configure).await
    }

    /// Seeded, with these write limits instead of the defaults.
    pub(crate) async fn with_write_limits(limits: api::rate_limit::WriteLimits) -> Self {
        Self::seeded_with(|config| config.write_limits = limits).await
    }

    /// Seeded, with the feed cache on (listening on the test database); waits until the cache is
    /// trusted, and hands back its handle.
    pub(crate) async fn with_feed_cache() -> (Self, api::feed_cache::FeedCache) {
        let app = Self::seeded_with(|config| {
            config.feed.cache = true;
            config.write_limits = api::rate_limit::WriteLimits::OFF;
        })
        .await;
        let cache = app.service.feed_cache().unwrap().clone();
        wait_for(|| cache.is_trusted()).await;
        (app, cache)
    }

    /// A fresh, migrated database without rows.
    pub(crate) async fn empty() -> Self {
        Self::start(TestDb::new().await, |_| {}).await
    }

    /// The service on `db`, built by [`App::build`] from [`test_config`] changed by `configure`.
    pub(crate) async fn start(db: TestDb, configure: impl FnOnce(&mut AppConfig)) -> Self {
        let mut config = test_config(db.service_config());
        configure(&mut config);
        let service = App::build(config).await.unwrap();
        let router = from_test_peer(service.router());
        Self {
            db,
            router,
            service,
        }
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    pub(crate) async fn post_json(&self, uri: &str, body: &Value) -> Reply {
        self.send(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    pub(crate) async fn home(&self, query: &str) -> Reply {
        self.get(&format!("/api/activities/home{query}")).await
    }

    pub(crate) async fn create(&self, message: &str, ttl: &str, handle: &str) -> Reply {
        self.post_json(
            "/api/activities",
            &json!({"message": message, "ttl": ttl, "user_handle": handle}),
        )
        .await
    }

    pub(crate) async fn reply(&self, parent: &str, message: &str, handle: &str) -> Reply {
        self.post_json(
            &format!("/api/activities/{parent}/reply"),
            &json!({"message": message, "user_handle": handle}),
        )
        .await
    }

    pub(crate) async fn count_activities(&self) -> i64 {
        self.db
            .client()
            .await
            .query_one("SELECT count(*) FROM activities", &[])
            .await
            .unwrap()
            .get(0)
    }

    pub(crate) async fn sql(&self, statement: &str) {
        self.db
            .client()
            .await
            .batch_execute(statement)
            .await
            .unwrap();
    }

    pub(crate) async fn options(&self, uri: &str, origin: &str) -> Reply {
        self.send(
            Request::builder()
                .method(Method::OPTIONS)
                .uri(uri)
                .header(header::ORIGIN, origin)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
                .header(
                    header::ACCESS_CONTROL_REQUEST_HEADERS,
                    "authorization,content-type",
                )
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }
}

/// What the tests serve: dev mode on 127.0.0.1 (a port the system picks), CORS for the
/// frontend's dev server as `cruddur serve` allows it in dev mode, every other setting the
/// service's default.
pub(crate) fn test_config(database: db::DatabaseConfig) -> AppConfig {
    let mut config = AppConfig::on_loopback(database);
    config.http.cors_origins = Some(vec![HeaderValue::from_static(FRONTEND)]);
    config
}

/// The router of a service on `database` (one the test set up itself, e.g. unreachable),
/// as [`test_config`] serves it.
pub(crate) async fn router_on(database: db::DatabaseConfig) -> Router {
    from_test_peer(App::build(test_config(database)).await.unwrap().router())
}

/// A service running on its own socket, stopped (gracefully) when dropped.
pub(crate) struct Serving {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<api::server::Drain>>,
}

impl Serving {
    /// Runs `service` ([`App::run_until`]) on the current runtime.
    pub(crate) fn start(service: App) -> Self {
        let addr = service.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(service.run_until(async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the service and waits (bounded by [`WAIT_GUARD`]) for it to drain.
    pub(crate) async fn stop(mut self) -> api::server::Drain {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().unwrap();
        tokio::time::timeout(WAIT_GUARD, task)
            .await
            .expect("the service did not stop")
            .unwrap()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The client address of `oneshot` requests (a real socket's is set by `api::server`).
pub(crate) const TEST_PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40_000);

/// `router` as if every `oneshot` request came from [`TEST_PEER`].
pub(crate) fn from_test_peer(router: Router) -> Router {
    router.layer(axum::extract::connect_info::MockConnectInfo(
        std::net::SocketAddr::from(TEST_PEER),
    ))
}

/// Parses an RFC 3339 timestamp, insisting on an explicit offset.
pub(crate) fn timestamp(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    assert!(
        text.ends_with("+00:00") || text.ends_with('Z'),
        "timestamp without explicit UTC offset: {text}"
    );
    chrono::DateTime::parse_from_rfc3339(text).unwrap()
}

/// Far above anything a test waits for; only reached if something is broken.
pub(crate) const WAIT_GUARD: std::time::Duration = std::time::Duration::from_secs(20);

/// Polls `condition` every 5 ms until it holds; panics after [`WAIT_GUARD`].
pub(crate) async fn wait_for(condition: impl Fn() -> bool) {
    tokio::time::timeout(WAIT_GUARD, async {
        while !condition() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("condition never held");
}
