//! Cognito mode under test: RSA keys generated here, tokens signed with them, and the pool's
//! JWKS served by a real HTTP server on 127.0.0.1 that can rotate keys, go down and count
//! fetches. Nothing of the verifier is mocked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::cognito::CognitoConfig;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{json, Value};
use test_db::cognito::{ANDREW_SUB, CLIENT_ID, POOL_ID};

use crate::helpers::TestApp;

/// The JWKS endpoint: serves `keys`, or 503 while down; counts every request.
#[derive(Clone, Default)]
pub(crate) struct JwksServer {
    keys: Arc<Mutex<Vec<Value>>>,
    down: Arc<AtomicBool>,
    fetches: Arc<AtomicUsize>,
    pub url: String,
}

async fn serve_jwks(State(server): State<JwksServer>) -> axum::response::Response {
    server.fetches.fetch_add(1, Ordering::SeqCst);
    if server.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = server.keys.lock().unwrap().clone();
    axum::Json(json!({ "keys": keys })).into_response()
}

impl JwksServer {
    /// A server on a free port of 127.0.0.1 publishing `keys`.
    pub(crate) async fn start(keys: Vec<Value>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut server = Self {
            keys: Arc::new(Mutex::new(keys)),
            ..Self::default()
        };
        server.url = format!(
            "http://{}/{POOL_ID}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let app = axum::Router::new()
            .route(
                &format!("/{POOL_ID}/.well-known/jwks.json"),
                axum::routing::get(serve_jwks),
            )
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        server
    }

    pub(crate) fn set_keys(&self, keys: Vec<Value>) {
        *self.keys.lock().unwrap() = keys;
    }

    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub(crate) fn set_up_again(&self) {
        self.set_down(false);
    }

    pub(crate) fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// The test pool's config, reading this server's keys.
    pub(crate) fn config(&self, min_refresh: Duration) -> CognitoConfig {
        let mut config = CognitoConfig::new(POOL_ID, CLIENT_ID, None).unwrap();
        config.jwks_url = self.url.clone();
        config.min_refresh = min_refresh;
        config
    }
}

/// The seeded service in cognito mode for `config`; `andrewbrown` is the user with
/// [`ANDREW_SUB`]. The service starts fetching the keys as it starts; this does not wait for it.
pub(crate) async fn cognito_app(config: CognitoConfig) -> TestApp {
    cognito_app_with_write_limits(config, api::rate_limit::WriteLimits::default()).await
}

/// [`cognito_app`] with these write limits.
pub(crate) async fn cognito_app_with_write_limits(
    config: CognitoConfig,
    limits: api::rate_limit::WriteLimits,
) -> TestApp {
    cognito_app_with(config, |service| service.write_limits = limits).await
}

/// [`cognito_app`] with more of its config set by `configure`.
pub(crate) async fn cognito_app_with(
    config: CognitoConfig,
    configure: impl FnOnce(&mut api::AppConfig),
) -> TestApp {
    let db = test_db::TestDb::new().await;
    db::seeds::seed(&mut db.client().await).await.unwrap();
    db.client()
        .await
        .execute(
            "UPDATE users SET cognito_user_id = $1 WHERE handle = 'andrewbrown'",
            &[&ANDREW_SUB],
        )
        .await
        .unwrap();
    TestApp::start(db, |service| {
        service.author = api::AuthorConfig::Cognito(config);
        // Cognito mode's default: no origin allowed unless FRONTEND_URL names it.
        service.http.cors_origins = None;
        configure(service);
    })
    .await
}
