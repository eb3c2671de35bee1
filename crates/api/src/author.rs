//! Who writes. Dev mode (the seed's behaviour): the body's `user_handle`, for a laptop. Cognito
//! mode: the user whose `cognito_user_id` is the `sub` of a verified access token; a body
//! `user_handle` naming anyone else is refused.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::HeaderMap;
use db::Pool;

use crate::cognito::{Verifier, VerifyError};
use crate::error::ApiError;

#[derive(Debug, Clone)]
pub enum AuthorMode {
    /// The author is the `user_handle` of the request body. For local development only.
    Dev,
    /// The author is the signed-in Cognito user.
    Cognito(Arc<Verifier>),
}

impl AuthorMode {
    pub fn describe(&self) -> String {
        match self {
            Self::Dev => {
                "dev (author = user_handle from the request body; no authentication)".to_owned()
            }
            Self::Cognito(verifier) => {
                let config = verifier.config();
                format!(
                    "cognito (author = the access token's user; pool {}, client {})",
                    config.user_pool_id, config.client_id
                )
            }
        }
    }

    /// The handle a write is made as; `None` when dev mode's body names nobody (a validation
    /// error for the caller to report with the others).
    pub async fn writer<'a>(
        &self,
        pool: &Pool,
        headers: &HeaderMap,
        body_handle: Option<&'a str>,
    ) -> Result<Option<Cow<'a, str>>, ApiError> {
        let verifier = match self {
            Self::Dev => return Ok(body_handle.map(Cow::Borrowed)),
            Self::Cognito(verifier) => verifier,
        };
        let token = bearer_token(headers).ok_or(ApiError::Unauthorized("no bearer token"))?;
        author_by_token(verifier, pool, token, body_handle).await
    }
}

/// The author an access token speaks for: its verified `sub`'s user, who may name only
/// themselves in the body. Shared by the Bearer path and the page's session.
pub(crate) async fn author_by_token<'a>(
    verifier: &Verifier,
    pool: &Pool,
    token: &str,
    body_handle: Option<&'a str>,
) -> Result<Option<Cow<'a, str>>, ApiError> {
    let claims = verifier.verify(token).await.map_err(|e| match e {
        VerifyError::Invalid(why) => ApiError::Unauthorized(why),
        VerifyError::Unavailable(why) => ApiError::AuthUnavailable(why),
    })?;
    let user = db::users::find_user_by_cognito_id(pool, &claims.sub)
        .await?
        .ok_or(ApiError::UserNotFound)?;
    // Writes name their author by handle: a handle stored before the handle rule (V3) that
    // would parse into another one (`@bayko` → `bayko`) must not write at all.
    if !domain::Handle::parse(&user.handle).is_ok_and(|h| h.as_str() == user.handle) {
        return Err(ApiError::LegacyHandle);
    }
    match body_handle.filter(|h| !h.is_empty()) {
        Some(named) if !named.eq_ignore_ascii_case(&user.handle) => Err(ApiError::Forbidden),
        _ => Ok(Some(Cow::Owned(user.handle))),
    }
}

/// The bearer token of a request, or `None` for an anonymous one: no `Authorization` header, a
/// scheme other than Bearer, an empty token, or the signed-out frontend's literal `null`.
/// Anonymous is never an error on a public route.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token != "null").then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_authorization(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::AUTHORIZATION,
            HeaderValue::from_static(value),
        );
        headers
    }

    #[test]
    fn signed_out_and_malformed_headers_are_anonymous() {
        assert_eq!(bearer_token(&HeaderMap::new()), None);
        for value in [
            "Bearer null",
            "Bearer ",
            "Bearer",
            "Basic dXNlcjpwYXNz",
            "null",
        ] {
            assert_eq!(bearer_token(&with_authorization(value)), None, "{value}");
        }
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_schemes_case() {
        assert_eq!(
            bearer_token(&with_authorization("Bearer eyJ.a.b")),
            Some("eyJ.a.b")
        );
        assert_eq!(
            bearer_token(&with_authorization("bearer eyJ.a.b")),
            Some("eyJ.a.b")
        );
    }
}
