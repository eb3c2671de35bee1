//! What every handler can reach.

use db::Pool;

use crate::author::AuthorMode;
use crate::error::ApiError;
use crate::{feed_cache, rate_limit, writes};

/// What every handler can reach; built by [`App::build`] only (its fields are the crate's).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The primary: writes, and reads that must see the caller's own write.
    pub(crate) pool: Pool,
    /// Reads that may come from a standby (feed, user, status pages, short cards).
    pub(crate) reads: db::Reads,
    /// Every write; each drops the cached feed page itself.
    pub(crate) writes: writes::Writes,
    pub(crate) author_mode: AuthorMode,
    /// Replies a feed or user-page item carries (its newest).
    pub(crate) item_replies: i64,
    /// Write allowances per client address and per author.
    pub(crate) write_limiter: std::sync::Arc<rate_limit::WriteLimiter>,
    /// The home feed's first page from memory; `None`: every request reads the database.
    pub(crate) feed_cache: Option<feed_cache::FeedCache>,
    /// Sign-in on the page (cognito mode with a managed login configured); `None`: the page
    /// has no sign-in (dev mode, or cognito mode for the React app only).
    pub(crate) sign_in: Option<std::sync::Arc<crate::sign_in::SignIn>>,
    /// The pages' Content-Security-Policy ([`crate::web::page_policy`]).
    pub(crate) page_policy: axum::http::HeaderValue,
}

impl AppState {
    /// A write: resolves its author ([`AuthorMode::writer`], or the page's session), counts it against the author's
    /// allowance, runs `write` as that author, and reports the allowance with the answer,
    /// success or refusal ([`rate_limit::middleware::limit_writes`] turns it into headers).
    pub(crate) async fn write_as(
        &self,
        headers: &axum::http::HeaderMap,
        body_handle: Option<&str>,
        write: impl AsyncFnOnce(Option<&str>) -> Result<axum::response::Response, ApiError>,
    ) -> Result<axum::response::Response, ApiError> {
        // The page's session authenticates only requests without a Bearer token: the React app's
        // path is unchanged, whatever cookies its browser holds.
        let by_session = self.sign_in.as_ref().filter(|_| {
            crate::author::bearer_token(headers).is_none()
                && crate::sign_in::cookies::read(headers, crate::sign_in::cookies::SESSION)
                    .is_some()
        });
        let author = match by_session {
            Some(sign_in) => sign_in.writer(&self.pool, headers, body_handle).await?,
            None => {
                self.author_mode
                    .writer(&self.pool, headers, body_handle)
                    .await?
            }
        };
        let allowance = self.write_limiter.check_author(author.as_deref())?;
        let answer = write(author.as_deref())
            .await
            .unwrap_or_else(axum::response::IntoResponse::into_response);
        Ok(rate_limit::headers::with_author_allowance(
            answer, allowance,
        ))
    }
}
