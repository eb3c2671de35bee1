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
