//! Who writes a crud. Dev mode (the seed's behaviour): the body's `user_handle`. The Cognito
//! mode (a bearer token's `sub`) plugs in here as another variant.

use axum::http::HeaderMap;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorMode {
    /// The author is the `user_handle` of the request body. For local development only.
    Dev,
}

impl AuthorMode {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Dev => "dev (author = user_handle from the request body; no authentication)",
        }
    }

    /// The author's handle as given, before validation; `None` when absent.
    pub fn author_handle<'a>(
        self,
        _headers: &HeaderMap,
        body_handle: Option<&'a str>,
    ) -> Result<Option<&'a str>, ApiError> {
        match self {
            Self::Dev => Ok(body_handle),
        }
    }
}

/// The bearer token of a request, or `None` for an anonymous one: no `Authorization` header, a
/// scheme other than Bearer, an empty token, or the signed-out frontend's literal `null`.
/// Anonymous is never an error on a public route.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
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
