//! Cognito test tokens: RSA keys generated once per test binary and access tokens signed with
//! them, as the user pool would sign them. The JWKS those keys make is served by each test's own
//! HTTP server on 127.0.0.1.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

pub const POOL_ID: &str = "us-east-1_TestPool";
pub const CLIENT_ID: &str = "test-client-id";
/// The `sub` the seeded user `andrewbrown` gets in these tests.
pub const ANDREW_SUB: &str = "11111111-aaaa-4bbb-8ccc-000000000001";

/// A signing key of the test pool.
pub struct TestKey {
    pub kid: &'static str,
    private: rsa::PrivateKey,
}

/// The private key stays out of test output.
impl std::fmt::Debug for TestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
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
        let der = self
            .private
            .to_pkcs1_der()
            .expect("a generated key encodes");
        let key = EncodingKey::from_rsa_der(der.as_bytes());
        jsonwebtoken::encode(&header, claims, &key).expect("test claims sign")
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
        .expect("the clock is past 1970")
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
