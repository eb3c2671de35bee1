//! Cognito access tokens: RS256 signatures checked against the user pool's JWKS, and the claims
//! Cognito access tokens carry (`iss`, `exp`, `token_use`, `client_id`; they have no `aud`).
//!
//! Keys are cached. A token naming an unknown `kid` (a key rotation) makes the verifier fetch
//! the JWKS again, at most once per `min_refresh`, one fetch at a time: a flood of forged `kid`s
//! costs one fetch per interval, not one per request. Every fetch is bounded in time. When no
//! usable key can be had because the JWKS cannot be fetched, the verdict is
//! [`VerifyError::Unavailable`] (the client is not at fault), not [`VerifyError::Invalid`].
//!
//! Built on `jsonwebtoken` (signature and standard claims). The ready-made axum JWKS crates were
//! evaluated and not used: `jwt-authorizer` has no axum 0.8 release and answers 500 when the JWKS
//! is down; `axum-jwt-auth` never refetches on an unknown `kid` and does not recover when its
//! first fetch fails.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tokio::sync::{Mutex, RwLock};

/// Default for [`CognitoConfig::min_refresh`]: one JWKS fetch per minute at most.
pub const DEFAULT_JWKS_MIN_REFRESH_SECS: u64 = 60;
/// Bound of one JWKS fetch (connect, request and body).
pub const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest JWKS document read (Cognito's holds two keys, about 1 KiB).
const MAX_JWKS_BYTES: usize = 64 * 1024;
/// After a failed fetch, the next may come this soon (or after `min_refresh`, if shorter): a
/// blip at start-up must not refuse writes for a whole refresh interval.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// Clock skew allowed on `exp`.
const EXP_LEEWAY_SECS: u64 = 60;

/// Which user pool and app client tokens must come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoConfig {
    pub region: String,
    pub user_pool_id: String,
    pub client_id: String,
    /// Where the pool's keys are (`https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json`
    /// unless overridden).
    pub jwks_url: String,
    pub min_refresh: Duration,
}

impl CognitoConfig {
    /// The configuration for a pool. The region is the pool id's prefix (`us-east-1_AbC…` →
    /// `us-east-1`, where the pool lives whatever region the server runs in), else `region`.
    pub fn new(
        user_pool_id: &str,
        client_id: &str,
        region: Option<&str>,
    ) -> Result<Self, CognitoConfigError> {
        let prefix = user_pool_id
            .split_once('_')
            .map(|(prefix, _)| prefix)
            .filter(|p| !p.is_empty());
        let region = prefix
            .or(region.filter(|r| !r.is_empty()))
            .ok_or(CognitoConfigError::NoRegion)?
            .to_owned();
        if user_pool_id.is_empty() || client_id.is_empty() {
            return Err(CognitoConfigError::Empty);
        }
        let jwks_url = format!(
            "https://cognito-idp.{region}.amazonaws.com/{user_pool_id}/.well-known/jwks.json"
        );
        Ok(Self {
            region,
            user_pool_id: user_pool_id.to_owned(),
            client_id: client_id.to_owned(),
            jwks_url,
            min_refresh: Duration::from_secs(DEFAULT_JWKS_MIN_REFRESH_SECS),
        })
    }

    /// Points the verifier at another JWKS URL: https, or plain http to a loopback address only
    /// (anyone on the path of a plain-http fetch could publish keys of their own).
    pub fn set_jwks_url(&mut self, url: &str) -> Result<(), CognitoConfigError> {
        domain::fetch_url::parse(url).map_err(CognitoConfigError::JwksUrl)?;
        self.jwks_url = url.to_owned();
        Ok(())
    }

    /// The `iss` every token of the pool carries.
    pub fn issuer(&self) -> String {
        format!(
            "https://cognito-idp.{}.amazonaws.com/{}",
            self.region, self.user_pool_id
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CognitoConfigError {
    #[error("no region: set AWS_REGION, or use a user pool id of the form <region>_<id>")]
    NoRegion,
    #[error("AWS_COGNITO_USER_POOL_ID and AWS_COGNITO_USER_POOL_CLIENT_ID must not be empty")]
    Empty,
    #[error("AWS_COGNITO_JWKS_URL: {0}")]
    JwksUrl(domain::fetch_url::InsecureUrl),
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a valid access token of this pool and client (the client's fault: 401).
    #[error("invalid token: {0}")]
    Invalid(&'static str),
    /// The pool's keys cannot be fetched, so the token cannot be judged (503).
    #[error("the user pool's keys are unavailable: {0}")]
    Unavailable(String),
}

/// The claims of a verified access token that the server uses.
#[derive(Debug, Clone, Deserialize)]
pub struct AccessClaims {
    /// The user's id in the pool (`users.cognito_user_id`).
    pub sub: String,
    token_use: String,
    client_id: String,
}

/// The claims of a verified ID token (sign-in on the page) that the server uses.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    /// The user's id in the pool: the access token's `sub` must be the same.
    pub sub: String,
    nonce: Option<String>,
    token_use: String,
}

struct KeyCache {
    by_kid: HashMap<String, DecodingKey>,
    /// When the JWKS was last asked for, and whether that worked.
    last_attempt: Option<(Instant, bool)>,
}

/// Verifies access tokens of one user pool. Cheap to share (`Arc`).
pub struct Verifier {
    config: CognitoConfig,
    /// What every token must satisfy besides its signature (built once, not per token).
    validation: Validation,
    /// The same for ID tokens, which name the app client in `aud`.
    id_validation: Validation,
    http: reqwest::Client,
    keys: RwLock<KeyCache>,
    /// Held while fetching, so concurrent misses wait for one fetch instead of starting theirs.
    fetching: Mutex<()>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    pub fn new(config: CognitoConfig) -> Result<Self, VerifyError> {
        let http = reqwest::Client::builder()
            // Each redirect is checked like the URL itself, and never leaves https.
            .redirect(reqwest::redirect::Policy::custom(
                |attempt| match domain::fetch_url::check_hop(attempt.previous(), attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                },
            ))
            .timeout(JWKS_FETCH_TIMEOUT)
            .connect_timeout(JWKS_FETCH_TIMEOUT)
            .build()
            .map_err(|e| VerifyError::Unavailable(domain::error_chain(&e)))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[config.issuer()]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = EXP_LEEWAY_SECS;
        // Access tokens carry client_id instead of aud; it is checked in `verify`.
        validation.validate_aud = false;
        let mut id_validation = Validation::new(Algorithm::RS256);
        id_validation.set_issuer(&[config.issuer()]);
        id_validation.set_audience(&[&config.client_id]);
        id_validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        id_validation.leeway = EXP_LEEWAY_SECS;
        Ok(Self {
            validation,
            id_validation,
            config,
            http,
            keys: RwLock::new(KeyCache {
                by_kid: HashMap::new(),
                last_attempt: None,
            }),
            fetching: Mutex::new(()),
        })
    }

    pub fn config(&self) -> &CognitoConfig {
        &self.config
    }

    /// Fetches the keys now (at start-up; failure is logged, not fatal: the next token retries
    /// once the refresh interval has passed).
    pub async fn prefetch(&self) {
        let _one_at_a_time = self.fetching.lock().await;
        if let Err(e) = self.refresh().await {
            tracing::warn!(error = %e, "cannot fetch the user pool's keys yet");
        }
    }

    /// The claims of `token` when it is a valid access token of the pool's client.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, VerifyError> {
        let claims: AccessClaims = self.decode(token, &self.validation).await?;
        if claims.token_use != "access" {
            return Err(VerifyError::Invalid("not an access token"));
        }
        if claims.client_id != self.config.client_id {
            return Err(VerifyError::Invalid("another app client"));
        }
        Ok(claims)
    }

    /// The claims of `token` when it is an ID token of the pool for this app client, issued
    /// for the sign-in that sent `nonce` (a token made for another sign-in is refused).
    pub async fn verify_id_token(&self, token: &str, nonce: &str) -> Result<IdClaims, VerifyError> {
        let claims: IdClaims = self.decode(token, &self.id_validation).await?;
        if claims.token_use != "id" {
            return Err(VerifyError::Invalid("not an ID token"));
        }
        let same_nonce = claims
            .nonce
            .as_deref()
            .is_some_and(|n| bool::from(n.as_bytes().ct_eq(nonce.as_bytes())));
        if !same_nonce {
            return Err(VerifyError::Invalid("another sign-in's nonce"));
        }
        Ok(claims)
    }

    /// The claims of an RS256 token signed by a key of the pool (its `kid`) that passes
    /// `validation`.
    async fn decode<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Result<T, VerifyError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid("malformed"))?;
        if header.alg != Algorithm::RS256 {
            return Err(VerifyError::Invalid("not RS256"));
        }
        let kid = header.kid.ok_or(VerifyError::Invalid("no kid"))?;
        let key = self.key(&kid).await?;
        Ok(jsonwebtoken::decode::<T>(token, &key, validation)
            .map_err(|_| VerifyError::Invalid("signature or claims"))?
            .claims)
    }

    /// The key `kid`, fetching the JWKS again when it is unknown and the interval allows.
    async fn key(&self, kid: &str) -> Result<DecodingKey, VerifyError> {
        if let Some(key) = self.keys.read().await.by_kid.get(kid) {
            return Ok(key.clone());
        }
        let _one_at_a_time = self.fetching.lock().await;
        let recent = {
            let cache = self.keys.read().await;
            if let Some(key) = cache.by_kid.get(kid) {
                // Fetched by whoever held the lock before us.
                return Ok(key.clone());
            }
            cache.last_attempt.filter(|(at, worked)| {
                let wait = if *worked {
                    self.config.min_refresh
                } else {
                    self.config.min_refresh.min(RETRY_AFTER_FAILURE)
                };
                at.elapsed() < wait
            })
        };
        let fetched = match recent {
            Some((_, true)) => return Err(VerifyError::Invalid("unknown kid")),
            Some((_, false)) => {
                return Err(VerifyError::Unavailable(
                    "the last fetch failed; retrying after the refresh interval".into(),
                ))
            }
            None => self.refresh().await,
        };
        match fetched {
            Err(e) => Err(e),
            Ok(()) => self
                .keys
                .read()
                .await
                .by_kid
                .get(kid)
                .cloned()
                .ok_or(VerifyError::Invalid("unknown kid")),
        }
    }

    /// Fetches the JWKS and replaces the cached keys; the caller holds `fetching`. A failed fetch
    /// keeps the keys it had.
    async fn refresh(&self) -> Result<(), VerifyError> {
        let outcome = self.fetch().await;
        let mut cache = self.keys.write().await;
        cache.last_attempt = Some((Instant::now(), outcome.is_ok()));
        match outcome {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "fetched the user pool's keys");
                cache.by_kid = keys;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching the user pool's keys failed");
                Err(e)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, VerifyError> {
        let unavailable =
            |e: &dyn std::error::Error| VerifyError::Unavailable(domain::error_chain(e));
        let mut response = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| unavailable(&e))?
            .error_for_status()
            .map_err(|e| unavailable(&e))?;
        let body = crate::capped_body::read(&mut response, MAX_JWKS_BYTES)
            .await
            .map_err(|e| unavailable(&e))?;
        let set: JwkSet = serde_json::from_slice(&body).map_err(|e| unavailable(&e))?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
            // A key marked for anything but RS256 signatures is not one tokens may use.
            .filter(|jwk| {
                jwk.common
                    .key_algorithm
                    .is_none_or(|alg| alg == KeyAlgorithm::RS256)
            })
            .filter(|jwk| {
                jwk.common
                    .public_key_use
                    .as_ref()
                    .is_none_or(|u| *u == PublicKeyUse::Signature)
            })
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((kid, key))
            })
            .collect();
        if keys.is_empty() {
            return Err(VerifyError::Unavailable("the JWKS holds no RSA key".into()));
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_is_the_pool_ids_own_and_the_issuer_follows_it() {
        let config = CognitoConfig::new("us-east-1_AbC", "client", Some("eu-west-1")).unwrap();
        assert_eq!(config.region, "us-east-1");
        assert_eq!(
            config.issuer(),
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"
        );
        assert_eq!(
            config.jwks_url,
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC/.well-known/jwks.json"
        );
        let odd = CognitoConfig::new("NoPrefix", "client", Some("eu-west-1")).unwrap();
        assert_eq!(odd.region, "eu-west-1");
        assert_eq!(
            CognitoConfig::new("NoPrefix", "client", None),
            Err(CognitoConfigError::NoRegion)
        );
    }

    #[test]
    fn a_jwks_url_must_be_https_or_plain_http_to_loopback() {
        let mut config = CognitoConfig::new("us-east-1_AbC", "client", None).unwrap();
        for ok in [
            "https://keys.example.com/jwks.json",
            "http://127.0.0.1:8080/jwks.json",
            "http://[::1]:8080/jwks.json",
            "http://localhost/jwks.json",
        ] {
            assert_eq!(config.set_jwks_url(ok), Ok(()), "{ok}");
            assert_eq!(config.jwks_url, ok);
        }
        for bad in [
            "http://keys.example.com/jwks.json",
            "http://10.0.0.1/jwks.json",
            "ftp://127.0.0.1/jwks.json",
            "not a url",
        ] {
            let before = config.jwks_url.clone();
            assert_eq!(
                config.set_jwks_url(bad),
                Err(CognitoConfigError::JwksUrl(
                    domain::fetch_url::parse(bad).unwrap_err()
                )),
                "{bad}"
            );
            assert_eq!(config.jwks_url, before, "a refused URL is not kept: {bad}");
        }
    }
}
