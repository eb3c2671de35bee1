//! Sign-in on the page (cognito mode): the user pool's managed login with the authorization
//! code flow and PKCE (S256), `state` and `nonce`; the code exchanged server-side; the tokens
//! kept in PostgreSQL (`db::web_sessions`), the browser holding only a random session id in an
//! `HttpOnly` cookie. Writes from the page are authenticated by that session (its access token,
//! refreshed server-side before it expires, checked by the same verifier as a Bearer token), and
//! refused when cross-site ([`csrf`]). Sign-out revokes the refresh token, deletes the session
//! and ends the managed login's own session through its `/logout`.
//!
//! Protocol: `oauth2` 5 (no default features) with our own HTTP client ([`http`]). Not
//! `openidconnect`: 35 more crates (a second `rsa`), an ID-token check on the keys of discovery
//! time only (no refetch on a rotated `kid`) and no leeway on `exp`; the ID token is checked here
//! on the verifier's key cache instead ([`crate::cognito::Verifier::verify_id_token`]). Sessions:
//! our own table, not `tower-sessions` (one expiry mode, idle or absolute, not both; no store for
//! tokio-postgres on axum 0.8). Revocation is one form POST of our own: `oauth2` refuses a
//! revocation URL that is not https, and the tests' managed login is plain http on loopback.

pub mod config;
pub mod cookies;
pub mod csrf;
pub mod http;
pub mod transaction;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use db::web_sessions::{self, SessionKey, WebSession};
use db::Pool;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::cognito::{Verifier, VerifyError};
use crate::error::ApiError;
pub use config::SignInConfig;
use transaction::Transaction;

/// The access token is renewed this long before it expires (or halfway, for shorter tokens).
const RENEW_AHEAD: Duration = Duration::from_secs(5 * 60);
/// A session's idle end is moved forward at most this often (not a write per request).
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// Cognito's access tokens live an hour unless the app client says otherwise; used when the
/// token answer has no `expires_in`.
const DEFAULT_ACCESS_LIFETIME: Duration = Duration::from_secs(3600);
/// The name of the transaction cookie's key in `server_keys`.
const COOKIE_KEY_NAME: &str = "sign_in_transaction_hmac";

/// The token answer's `id_token`, beside the OAuth fields.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct IdTokenField {
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdTokenField {}
type Tokens = StandardTokenResponse<IdTokenField, BasicTokenType>;
type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    Tokens,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Why a sign-in did not complete: each is a page the person reads.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("no sign-in was begun in this browser, or it expired")]
    NoTransaction,
    #[error("the answer's state is not this sign-in's")]
    StateMismatch,
    #[error("the managed login refused the sign-in: {0}")]
    Refused(String),
    #[error("the code was refused at the token endpoint: {0}")]
    CodeRefused(String),
    #[error("the tokens do not verify: {0}")]
    BadTokens(&'static str),
    #[error("no Cruddur user is recorded for this account")]
    NoUser,
    #[error("the sign-in service cannot be reached: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] db::DbError),
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("sign-in endpoint URL: {0}")]
    Url(#[from] url::ParseError),
    #[error("sign-in HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A new session for the browser: the cookie value and the key it is stored under.
#[derive(Debug)]
pub struct NewSession {
    pub cookie: String,
    pub return_to: String,
}

/// Sign-in: its settings, the protocol client and the verifier. Cheap to share (`Arc`).
pub struct SignIn {
    config: SignInConfig,
    client_id: String,
    client: OAuthClient,
    http: http::Http,
    verifier: Arc<Verifier>,
    /// This site's origin (what `Origin` must say), and the managed login's: made once.
    site_origin: String,
    managed_login_origin: String,
    /// The transaction cookie's HMAC key, shared by every instance through the database; read
    /// on first use (the database may be down when the server starts).
    cookie_key: OnceCell<Vec<u8>>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("managed_login", &self.config.managed_login.as_str())
            .field("site", &self.config.site.as_str())
            .finish_non_exhaustive()
    }
}

/// 32 bytes from the operating system's generator, base64url (43 characters).
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key a session id is stored under; `None` for a value that is no session id of ours.
pub fn session_key(cookie: &str) -> Option<SessionKey> {
    let well_formed = cookie.len() == 43
        && cookie
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| SessionKey(Sha256::digest(cookie.as_bytes()).into()))
}

/// When to renew an access token valid for `valid_for`: [`RENEW_AHEAD`] before it expires, or
/// halfway for a token shorter than twice that.
fn renew_after(valid_for: Duration) -> Duration {
    valid_for.saturating_sub(RENEW_AHEAD.min(valid_for / 2))
}

impl SignIn {
    pub fn new(config: SignInConfig, verifier: Arc<Verifier>) -> Result<Self, BuildError> {
        let client_id = verifier.config().client_id.clone();
        let client = oauth2::Client::new(ClientId::new(client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(config.endpoint("oauth2/authorize")))
            .set_token_uri(TokenUrl::from_url(config.endpoint("oauth2/token")))
            .set_redirect_uri(RedirectUrl::new(config.callback_url())?);
        // With a secret: HTTP Basic (oauth2's default), as the managed login wants it.
        let client = match &config.client_secret {
            Some(secret) => {
                client.set_client_secret(ClientSecret::new(secret.expose_secret().to_owned()))
            }
            None => client,
        };
        Ok(Self {
            client_id,
            client,
            http: http::Http::new()?,
            verifier,
            cookie_key: OnceCell::new(),
            site_origin: config.site_origin(),
            managed_login_origin: config.managed_login_origin(),
            config,
        })
    }

    pub fn config(&self) -> &SignInConfig {
        &self.config
    }

    /// This site's origin (`https://cruddur.example`), as a browser sends it in `Origin`.
    pub fn site_origin(&self) -> &str {
        &self.site_origin
    }

    /// The managed login's origin.
    pub fn managed_login_origin(&self) -> &str {
        &self.managed_login_origin
    }

    async fn cookie_key(&self, pool: &Pool) -> Result<&[u8], db::DbError> {
        self.cookie_key
            .get_or_try_init(|| async {
                let mut candidate = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut candidate);
                web_sessions::server_key(pool, COOKIE_KEY_NAME, &candidate).await
            })
            .await
            .map(Vec::as_slice)
    }

    /// Starts a sign-in: the managed login's URL to send the browser to, and the sealed
    /// transaction for its cookie.
    pub async fn begin(
        &self,
        pool: &Pool,
        return_to: Option<&str>,
    ) -> Result<(url::Url, String), db::DbError> {
        let key = self.cookie_key(pool).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = random_token();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            // The API needs only the user's id (`sub`), which every token of the pool carries.
            .add_scope(Scope::new("openid".to_owned()))
            .add_extra_param("nonce", nonce.clone())
            .set_pkce_challenge(challenge)
            .url();
        let transaction = Transaction {
            state: state.secret().clone(),
            nonce,
            pkce_verifier: verifier.secret().clone(),
            return_to: transaction::local_path(return_to),
            expires: transaction::now_secs() + transaction::LIFETIME.as_secs(),
        };
        Ok((url, transaction::seal(key, &transaction)))
    }

    /// Completes a sign-in from the callback: checks the transaction and `state`, exchanges the
    /// code, verifies both tokens and opens a session (a new id every time).
    pub async fn finish(
        &self,
        pool: &Pool,
        sealed: Option<&str>,
        callback: &Callback,
    ) -> Result<NewSession, SignInError> {
        let key = self.cookie_key(pool).await?;
        let transaction = sealed
            .and_then(|v| transaction::open(key, v, transaction::now_secs()).ok())
            .ok_or(SignInError::NoTransaction)?;
        let state = callback.state.as_deref().unwrap_or_default();
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            state.as_bytes(),
            transaction.state.as_bytes(),
        )) {
            return Err(SignInError::StateMismatch);
        }
        if let Some(error) = &callback.error {
            return Err(SignInError::Refused(error_code(error)));
        }
        let code = callback
            .code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| SignInError::Refused("no code".to_owned()))?;
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(transaction.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                oauth2::RequestTokenError::ServerResponse(answer)
                    if *answer.error() == BasicErrorResponseType::InvalidGrant =>
                {
                    SignInError::CodeRefused(answer.error().to_string())
                }
                // invalid_client, unauthorized_client, …: the server's settings, not the person.
                oauth2::RequestTokenError::ServerResponse(answer) => {
                    tracing::error!(error = %answer.error(), "the managed login refused the app client: check its id, secret and callback URL");
                    SignInError::Unavailable(format!("token endpoint: {}", answer.error()))
                }
                oauth2::RequestTokenError::Request(e) => SignInError::Unavailable(e.to_string()),
                oauth2::RequestTokenError::Parse(_, _) => {
                    SignInError::Unavailable("the token answer is not JSON of tokens".into())
                }
                other => SignInError::Unavailable(other.to_string()),
            })?;
        let id_token = tokens
            .extra_fields()
            .id_token
            .as_deref()
            .ok_or(SignInError::BadTokens("no ID token"))?;
        let id = self
            .verifier
            .verify_id_token(id_token, &transaction.nonce)
            .await
            .map_err(verify_failure)?;
        let access = tokens.access_token().secret();
        let claims = self.verifier.verify(access).await.map_err(verify_failure)?;
        if claims.sub != id.sub {
            return Err(SignInError::BadTokens("the tokens name different users"));
        }
        let user = db::users::find_user_by_cognito_id(pool, &claims.sub)
            .await?
            .ok_or(SignInError::NoUser)?;
        let valid_for = tokens.expires_in().unwrap_or(DEFAULT_ACCESS_LIFETIME);
        let cookie = random_token();
        let key = session_key(&cookie).expect("a fresh token is a well-formed id");
        web_sessions::open(
            pool,
            &key,
            user.uuid,
            &web_sessions::Tokens {
                access_token: access,
                access_valid_for: valid_for,
                renew_after: renew_after(valid_for),
                refresh_token: tokens.refresh_token().map(|t| t.secret().as_str()),
            },
            self.config.lifetimes,
        )
        .await?;
        tracing::info!(user = %user.handle, "signed in");
        Ok(NewSession {
            cookie,
            return_to: transaction.return_to,
        })
    }

    /// The live session the session cookie's value names, its idle end moved forward when due;
    /// `None` without a cookie, or when its session has ended.
    pub async fn session(
        &self,
        pool: &Pool,
        cookie: Option<&str>,
    ) -> Result<Option<(SessionKey, WebSession)>, db::DbError> {
        let Some(key) = cookie.and_then(session_key) else {
            return Ok(None);
        };
        let Some(session) = web_sessions::find(pool, &key).await? else {
            return Ok(None);
        };
        if session.refresh_token.is_none() && session.now >= session.access_expires_at {
            // Nothing can renew it: the session lasted as long as its access token.
            web_sessions::delete(pool, &key).await?;
            return Ok(None);
        }
        let idle = self.config.lifetimes.idle;
        let since_touch = idle.saturating_sub(
            (session.idle_until - session.now)
                .to_std()
                .unwrap_or_default(),
        );
        if since_touch >= TOUCH_EVERY && !web_sessions::touch(pool, &key, idle).await? {
            return Ok(None);
        }
        Ok(Some((key, session)))
    }

    /// The author of a write the session cookie authenticates: refused when cross-site or
    /// without a live session; the access token renewed first when due.
    pub async fn writer<'a>(
        &self,
        pool: &Pool,
        headers: &HeaderMap,
        body_handle: Option<&'a str>,
    ) -> Result<Option<Cow<'a, str>>, ApiError> {
        if !csrf::same_origin(headers, &self.site_origin) {
            return Err(ApiError::CrossSite);
        }
        let (key, session) = self
            .session(pool, cookies::read(headers, cookies::SESSION))
            .await?
            .ok_or(ApiError::SessionEnded)?;
        let access = if session.now >= session.refresh_after {
            self.renew(pool, &key, &session).await?
        } else {
            session.access_token
        };
        crate::author::author_by_token(&self.verifier, pool, &access, body_handle).await
    }

    /// The session's access token renewed with its refresh token. Only `invalid_grant` (the
    /// refresh token revoked or expired) ends the session; any other refusal is the server's
    /// configuration (503, logged), and an unreachable managed login leaves the current token in
    /// use while it is valid.
    async fn renew(
        &self,
        pool: &Pool,
        key: &SessionKey,
        session: &WebSession,
    ) -> Result<String, ApiError> {
        let still_valid = session.now < session.access_expires_at;
        let Some(refresh) = &session.refresh_token else {
            // Nothing to renew with: the session lasts as long as its access token.
            if still_valid {
                return Ok(session.access_token.clone());
            }
            web_sessions::delete(pool, key).await?;
            return Err(ApiError::SessionEnded);
        };
        let renewed = self
            .client
            .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
            .request_async(&self.http)
            .await;
        let tokens = match renewed {
            Ok(tokens) => tokens,
            Err(oauth2::RequestTokenError::ServerResponse(answer))
                if *answer.error() == BasicErrorResponseType::InvalidGrant =>
            {
                if web_sessions::end_if_refresh_token(pool, key, refresh).await? {
                    tracing::info!(
                        "the refresh token was refused (invalid_grant); the session ends"
                    );
                    return Err(ApiError::SessionEnded);
                }
                // Another request renewed the session first (with a rotated refresh token):
                // use what it stored.
                return match web_sessions::find(pool, key).await? {
                    Some(renewed) => Ok(renewed.access_token),
                    None => Err(ApiError::SessionEnded),
                };
            }
            Err(oauth2::RequestTokenError::ServerResponse(answer)) => {
                tracing::error!(error = %answer.error(), "the managed login refused a refresh: check the app client's settings");
                return Err(ApiError::AuthUnavailable(format!(
                    "token refresh refused: {}",
                    answer.error()
                )));
            }
            Err(e) if still_valid => {
                tracing::warn!(error = %e, "renewing an access token failed; using it until it expires");
                return Ok(session.access_token.clone());
            }
            Err(e) => return Err(ApiError::AuthUnavailable(format!("token refresh: {e}"))),
        };
        let valid_for = tokens.expires_in().unwrap_or(DEFAULT_ACCESS_LIFETIME);
        let access = tokens.access_token().secret().clone();
        let stored = web_sessions::renew(
            pool,
            key,
            &web_sessions::Tokens {
                access_token: &access,
                access_valid_for: valid_for,
                renew_after: renew_after(valid_for),
                refresh_token: tokens.refresh_token().map(|t| t.secret().as_str()),
            },
        )
        .await?;
        if !stored {
            return Err(ApiError::SessionEnded);
        }
        tracing::debug!("renewed a session's access token");
        Ok(access)
    }

    /// Ends the session of `key` (if it is there) and revokes its refresh token.
    pub async fn end(&self, pool: &Pool, key: &SessionKey) -> Result<(), db::DbError> {
        if let web_sessions::Deleted::Ended {
            refresh_token: Some(refresh),
        } = web_sessions::delete(pool, key).await?
        {
            self.revoke(refresh).await;
        }
        Ok(())
    }

    /// Ends the session a request's cookie names (if any) and revokes its refresh token; the
    /// managed login's logout URL to send the browser to.
    pub async fn sign_out(&self, pool: &Pool, headers: &HeaderMap) -> Result<url::Url, ApiError> {
        if let Some(key) = cookies::read(headers, cookies::SESSION).and_then(session_key) {
            self.end(pool, &key).await?;
        }
        Ok(self.logout_url())
    }

    /// Revokes a refresh token (and the access tokens made from it) at `/oauth2/revoke`; a
    /// failure is logged, not fatal: the session row is gone either way, and nothing else holds
    /// the token.
    async fn revoke(&self, refresh: String) {
        let secret = self
            .config
            .client_secret
            .as_ref()
            .map(ExposeSecret::expose_secret);
        let mut form = vec![
            ("token", refresh.as_str()),
            ("token_type_hint", "refresh_token"),
        ];
        let basic = match secret {
            Some(secret) => Some((self.client_id.as_str(), secret)),
            // A public client names itself in the body.
            None => {
                form.push(("client_id", self.client_id.as_str()));
                None
            }
        };
        match self
            .http
            .post_form(self.config.endpoint("oauth2/revoke"), &form, basic)
            .await
        {
            Ok(status) if status.is_success() => {}
            Ok(status) => {
                tracing::warn!(%status, "the managed login refused to revoke a refresh token at sign-out");
            }
            Err(e) => tracing::warn!(error = %e, "revoking a refresh token at sign-out failed"),
        }
    }

    /// The managed login's `/logout`, back to this site's home page (an allowed sign-out URL
    /// of the app client).
    pub fn logout_url(&self) -> url::Url {
        let mut url = self.config.endpoint("logout");
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("logout_uri", &format!("{}/", self.site_origin));
        url
    }
}

/// The query of the managed login's answer.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// An OAuth error code as shown on a page: its token characters only, at most 64.
fn error_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect()
}

fn verify_failure(e: VerifyError) -> SignInError {
    match e {
        VerifyError::Invalid(why) => SignInError::BadTokens(why),
        VerifyError::Unavailable(why) => SignInError::Unavailable(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_access_token_is_renewed_five_minutes_ahead_or_halfway_when_short() {
        assert_eq!(
            renew_after(Duration::from_secs(3600)),
            Duration::from_secs(3300)
        );
        assert_eq!(
            renew_after(Duration::from_secs(600)),
            Duration::from_secs(300)
        );
        assert_eq!(renew_after(Duration::from_secs(4)), Duration::from_secs(2));
        assert_eq!(renew_after(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn only_43_base64url_characters_are_a_session_id() {
        let id = random_token();
        assert_eq!(id.len(), 43);
        assert!(session_key(&id).is_some());
        assert_ne!(session_key(&id), session_key(&random_token()));
        for bad in ["", "short", &format!("{id}x"), &id.replace(|_| true, "!")] {
            assert!(session_key(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn error_codes_keep_token_characters_only() {
        assert_eq!(error_code("access_denied"), "access_denied");
        assert_eq!(error_code("<script>x"), "scriptx");
    }
}
