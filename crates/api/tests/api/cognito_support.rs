//! Cognito mode under test: RSA keys generated here, tokens signed with them, and the pool's
//! JWKS served by a real HTTP server on 127.0.0.1 that can rotate keys, go down and count
//! fetches. Nothing of the verifier is mocked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use api::cognito::{CognitoConfig, Verifier};
use api::{AppState, AuthorMode, RouterOptions};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

use crate::helpers::TestApp;

pub const POOL_ID: &str = "us-east-1_TestPool";
pub const CLIENT_ID: &str = "test-client-id";
/// The `sub` the seeded user `andrewbrown` gets in these tests.
pub const ANDREW_SUB: &str = "11111111-aaaa-4bbb-8ccc-000000000001";

/// A signing key of the test pool.
pub struct TestKey {
    pub kid: &'static str,
    private: rsa::PrivateKey,
}

impl TestKey {
    fn generate(kid: &'static str) -> Self {
        use rsa::Generate;
        Self {
            kid,
            private: rsa::PrivateKey::generate(),
        }
    }

    /// This key as a JWK, as Cognito publishes it.
    pub fn jwk(&self) -> Value {
        let public = self.private.to_public_key();
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.n_bytes()),
            "e": URL_SAFE_NO_PAD.encode(public.e_bytes()),
        })
    }

    /// The public modulus, used by the HS256 forgery (the public key as an HMAC secret).
    pub fn public_bytes(&self) -> Vec<u8> {
        self.private.to_public_key().n_bytes().to_vec()
    }

    /// A token signed by this key with `claims` (RS256, this key's `kid` unless `kid` is given).
    pub fn sign(&self, claims: &Value, kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.unwrap_or(self.kid).to_owned());
        let der = self.private.to_pkcs1_der().unwrap();
        let key = EncodingKey::from_rsa_der(der.as_bytes());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }
}

/// Two keys, generated once per test binary: the pool's current one and the next (rotation).
pub fn keys() -> &'static (TestKey, TestKey) {
    static KEYS: OnceLock<(TestKey, TestKey)> = OnceLock::new();
    KEYS.get_or_init(|| (TestKey::generate("key-a"), TestKey::generate("key-b")))
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn issuer() -> String {
    format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL_ID}")
}

/// The claims of a valid access token of the test pool for `sub`, expiring in an hour.
pub fn access_claims(sub: &str) -> Value {
    json!({
        "sub": sub, "iss": issuer(), "client_id": CLIENT_ID, "token_use": "access",
        "scope": "aws.cognito.signin.user.admin", "auth_time": now_secs(),
        "iat": now_secs(), "exp": now_secs() + 3600, "jti": "t", "username": sub,
    })
}

/// The JWKS endpoint: serves `keys`, or 503 while down; counts every request.
#[derive(Clone, Default)]
pub struct JwksServer {
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
    pub async fn start(keys: Vec<Value>) -> Self {
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

    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.keys.lock().unwrap() = keys;
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn set_up_again(&self) {
        self.set_down(false);
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// A verifier of the test pool reading this server's keys.
    pub fn verifier(&self, min_refresh: Duration) -> Arc<Verifier> {
        let mut config = CognitoConfig::new(POOL_ID, CLIENT_ID, None).unwrap();
        config.jwks_url = self.url.clone();
        config.min_refresh = min_refresh;
        Arc::new(Verifier::new(config).unwrap())
    }
}

/// The seeded app in cognito mode; `andrewbrown` is the user with [`ANDREW_SUB`].
pub async fn cognito_app(verifier: Arc<Verifier>) -> TestApp {
    let mut app = TestApp::seeded().await;
    app.sql(&format!(
        "UPDATE users SET cognito_user_id = '{ANDREW_SUB}' WHERE handle = 'andrewbrown'"
    ))
    .await;
    app.router = api::router(
        AppState::new(
            app.db.pool().clone(),
            AuthorMode::Cognito(verifier),
            db::CreateQueueSettings::default(),
        ),
        &RouterOptions::default(),
    );
    app
}
