//! `TestApp`: a router on a fresh database, with one method per endpoint.

use api::{AppState, AuthorMode, RouterOptions};
use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use test_db::TestDb;
use tower::ServiceExt;

pub const FRONTEND: &str = "http://localhost:3000";

pub struct TestApp {
    pub db: TestDb,
    pub router: Router,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn codes(&self) -> Vec<String> {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not an array of codes ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

impl TestApp {
    /// A fresh, migrated database with the seed data.
    pub async fn seeded() -> Self {
        let app = Self::empty().await;
        db::seeds::seed(&mut app.db.client().await).await.unwrap();
        app
    }

    /// Seeded, with these write limits instead of the defaults.
    pub async fn with_write_limits(limits: api::rate_limit::WriteLimits) -> Self {
        let mut app = Self::seeded().await;
        let state = AppState::new(
            app.db.pool().clone(),
            AuthorMode::Dev,
            db::CreateQueueSettings::default(),
            limits,
        );
        app.router = from_test_peer(api::router(state, &RouterOptions::default()));
        app
    }

    /// Seeded, with the feed cache on (listening on the test database); waits until the cache is
    /// trusted, and hands back its handle.
    pub async fn with_feed_cache() -> (Self, api::feed_cache::FeedCache) {
        let mut app = Self::seeded().await;
        let state = AppState::new(
            app.db.pool().clone(),
            AuthorMode::Dev,
            db::CreateQueueSettings::default(),
            api::rate_limit::WriteLimits::OFF,
        )
        .with_feed_cache(app.db.settings());
        let cache = state.feed_cache.clone().unwrap();
        // With CORS on, as `cruddur serve` runs in dev mode.
        app.router = from_test_peer(api::router(
            state,
            &RouterOptions {
                frontend_origins: vec![HeaderValue::from_static(FRONTEND)],
                ..RouterOptions::default()
            },
        ));
        wait_for(|| cache.is_trusted()).await;
        (app, cache)
    }

    /// A fresh, migrated database without rows.
    pub async fn empty() -> Self {
        let db = TestDb::new().await;
        let router = router_for(db.pool().clone());
        Self { db, router }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
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

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post_json(&self, uri: &str, body: &Value) -> Reply {
        self.send(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    pub async fn home(&self, query: &str) -> Reply {
        self.get(&format!("/api/activities/home{query}")).await
    }

    pub async fn create(&self, message: &str, ttl: &str, handle: &str) -> Reply {
        self.post_json(
            "/api/activities",
            &json!({"message": message, "ttl": ttl, "user_handle": handle}),
        )
        .await
    }

    pub async fn reply(&self, parent: &str, message: &str, handle: &str) -> Reply {
        self.post_json(
            &format!("/api/activities/{parent}/reply"),
            &json!({"message": message, "user_handle": handle}),
        )
        .await
    }

    pub async fn count_activities(&self) -> i64 {
        self.db
            .client()
            .await
            .query_one("SELECT count(*) FROM activities", &[])
            .await
            .unwrap()
            .get(0)
    }

    pub async fn sql(&self, statement: &str) {
        self.db
            .client()
            .await
            .batch_execute(statement)
            .await
            .unwrap();
    }

    pub async fn options(&self, uri: &str, origin: &str) -> Reply {
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

pub fn router_for(pool: db::Pool) -> Router {
    from_test_peer(api::router(
        AppState::new(
            pool,
            AuthorMode::Dev,
            db::CreateQueueSettings::default(),
            api::rate_limit::WriteLimits::default(),
        ),
        &RouterOptions {
            frontend_origins: vec![HeaderValue::from_static(FRONTEND)],
            ..RouterOptions::default()
        },
    ))
}

/// The client address of `oneshot` requests (a real socket's is set by `api::server`).
pub const TEST_PEER: ([u8; 4], u16) = ([127, 0, 0, 1], 40_000);

/// `router` as if every `oneshot` request came from [`TEST_PEER`].
pub fn from_test_peer(router: Router) -> Router {
    router.layer(axum::extract::connect_info::MockConnectInfo(
        std::net::SocketAddr::from(TEST_PEER),
    ))
}

/// Parses an RFC 3339 timestamp, insisting on an explicit offset.
pub fn timestamp(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
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
pub const WAIT_GUARD: std::time::Duration = std::time::Duration::from_secs(20);

/// Polls `condition` every 5 ms until it holds; panics after [`WAIT_GUARD`].
pub async fn wait_for(condition: impl Fn() -> bool) {
    tokio::time::timeout(WAIT_GUARD, async {
        while !condition() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("condition never held");
}
