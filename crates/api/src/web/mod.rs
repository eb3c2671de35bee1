//! Cruddur's own web page, served by the binary: the home feed at `/`, a user's page at
//! `/@{handle}` and a crud with its replies at `/@{handle}/status/{uuid}`. Server-rendered HTML
//! that reads without JavaScript; a small embedded script (`web/app.js`) adds a character counter
//! that counts like the server, ticking times, and posting and replying through the JSON API
//! without a reload. Posting is offered in dev mode (as any user), and in cognito mode to people
//! signed in on the page ([`crate::sign_in`]); cognito mode without a managed login configured is
//! read-only.
//!
//! Every page carries a Content-Security-Policy without `unsafe-inline`: scripts, styles and
//! requests only from this origin, no framing, and no forms posted anywhere, except, with sign-in
//! on, the sign-out form to this origin (its answer redirects to the managed login's `/logout`,
//! and browsers hold form redirects to `form-action` too).

pub mod assets;
pub mod clock;
pub mod pages;
pub mod sentences;
pub mod sign_in_routes;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use db::activities;
use maud::Markup;
use serde::Deserialize;
use uuid::Uuid;

use crate::after_write::Fresh;
use crate::author::AuthorMode;
use crate::error::ApiError;
use crate::path::PathParams;
use crate::routes::{cursor, parse_handle, DEFAULT_PAGE_SIZE};
use crate::sign_in;
use crate::state::AppState;
use pages::{Posting, Viewer};

/// Cruds (or replies) a page shows.
const PAGE: i64 = DEFAULT_PAGE_SIZE;

/// Whether `rows`, read with a limit of one more than a page, hold more than a page; cuts them
/// to a page.
fn more_than_a_page<T>(rows: &mut Vec<T>) -> bool {
    let more = rows.len() as i64 > PAGE;
    rows.truncate(usize::try_from(PAGE).unwrap_or(usize::MAX));
    more
}

/// Most users the dev-mode author picker lists.
pub const AUTHORS_LISTED: i64 = 100;

/// Where the page may load from and send to: this origin only, nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// The page routes, under the same layers as the API (see [`crate::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/@{handle}", get(user))
        .route("/@{handle}/status/{uuid}", get(status))
        .route("/assets/{name}", get(assets::serve))
}

#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    pub before: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    pub after: Option<String>,
}

/// The pages' policy, made once at start ([`crate::App::build`]): [`CONTENT_SECURITY_POLICY`],
/// or with sign-in on, one whose sign-out form may post here and be redirected to the managed
/// login.
pub(crate) fn page_policy(sign_in: Option<&sign_in::SignIn>) -> HeaderValue {
    sign_in
        .and_then(|s| {
            HeaderValue::from_str(&CONTENT_SECURITY_POLICY.replace(
                "form-action 'none'",
                &format!("form-action 'self' {}", s.managed_login_origin()),
            ))
            .ok()
        })
        .unwrap_or_else(|| HeaderValue::from_static(CONTENT_SECURITY_POLICY))
}

/// An HTML answer with the page's security headers.
pub(crate) fn page(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            ),
            // Pages show live data: always ask again.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        markup.into_string(),
    )
        .into_response()
}

/// Who is looking: in cognito mode with sign-in, the session the request's cookie names.
async fn viewer(state: &AppState, request: &RequestParts) -> Result<Viewer, ApiError> {
    let posting = match (&state.author_mode, &state.sign_in) {
        (AuthorMode::Dev, _) => Posting::AsAnyOf(
            state
                .reads
                .read(
                    move |pool| async move { db::users::list_authors(&pool, AUTHORS_LISTED).await },
                )
                .await?,
        ),
        (AuthorMode::Cognito(_), None) => Posting::SignInElsewhere,
        // The primary, not a standby: a session opened a moment ago must be found.
        (AuthorMode::Cognito(_), Some(sign_in)) => {
            match sign_in
                .session(&state.pool, request.session_cookie.as_deref())
                .await?
            {
                Some((_, session)) => Posting::SignedIn(session.user),
                None => Posting::SignIn {
                    return_to: request
                        .uri
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .to_owned(),
                    ended: request.session_cookie.is_some(),
                },
            }
        }
    };
    Ok(Viewer {
        posting,
        now: chrono::Utc::now(),
    })
}

/// What a page needs of its request: the session cookie (copied only when there is one), and
/// where to come back to after signing in.
pub struct RequestParts {
    session_cookie: Option<String>,
    uri: axum::http::Uri,
}

/// The cookie is a credential: never printed.
impl std::fmt::Debug for RequestParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestParts")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestParts {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self {
            session_cookie: sign_in::cookies::read(&parts.headers, sign_in::cookies::SESSION)
                .map(str::to_owned),
            uri: parts.uri.clone(),
        })
    }
}

/// A page for `viewer`: with sign-in on, the policy that lets the sign-out form out, and an
/// ended session's cookie cleared.
fn viewer_page(state: &AppState, viewer: &Viewer, status: StatusCode, markup: Markup) -> Response {
    let mut response = page(status, markup);
    if state.sign_in.is_some() {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, state.page_policy.clone());
        // The page names who is signed in: no shared cache may keep it, none may serve it
        // to another cookie.
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Cookie"));
        if matches!(viewer.posting, Posting::SignIn { ended: true, .. }) {
            response.headers_mut().append(
                header::SET_COOKIE,
                sign_in::cookies::clear(sign_in::cookies::SESSION),
            );
        }
    }
    response
}

/// A failed page: the API's error (its status and logged cause kept), shown as an HTML page.
#[derive(Debug)]
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl From<db::DbError> for PageError {
    fn from(error: db::DbError) -> Self {
        Self(ApiError::from(error))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let codes = self.0.codes();
        // The API's answer carries the cause for the request's log line; keep it.
        let api = self.0.into_response();
        let (heading, sentence) = match status {
            StatusCode::NOT_FOUND => (
                "Not found",
                "Nothing lives here: the crud may have expired, or the user does not exist."
                    .to_owned(),
            ),
            StatusCode::BAD_REQUEST => (
                "Bad link",
                "That link is not one this site makes (its page cursor is not valid).".to_owned(),
            ),
            _ => (
                "Something went wrong",
                codes
                    .first()
                    .map(|code| sentences::sentence(code, 0))
                    .unwrap_or_default(),
            ),
        };
        let viewer = Viewer {
            posting: Posting::Unmentioned,
            now: chrono::Utc::now(),
        };
        let mut response = page(status, pages::error(&viewer, heading, &sentence));
        response.extensions_mut().extend(api.extensions().clone());
        if let Some(retry) = api.headers().get(header::RETRY_AFTER) {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry.clone());
        }
        response
    }
}

async fn home(
    State(state): State<AppState>,
    request: RequestParts,
    Fresh(fresh): Fresh,
    query: Result<Query<HomeQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(query) = query.map_err(|_| ApiError::BadRequest("invalid_query"))?;
    let before = cursor(query.before.as_deref())?;
    // One more than shown: an "older" link only when there is something older.
    let replies = state.item_replies;
    let mut items = state
        .reads
        .read_with(fresh, move |pool| async move {
            activities::list_home_feed(&pool, PAGE + 1, before, replies).await
        })
        .await?;
    let older = more_than_a_page(&mut items).then(|| items.last().map(|item| item.activity.uuid));
    let viewer = viewer(&state, &request).await?;
    Ok(viewer_page(
        &state,
        &viewer,
        StatusCode::OK,
        pages::home(&viewer, &items, older.flatten()),
    ))
}

async fn user(
    State(state): State<AppState>,
    request: RequestParts,
    Fresh(fresh): Fresh,
    PathParams(handle): PathParams<String>,
) -> Result<Response, PageError> {
    let handle = parse_handle(&handle)?;
    let replies = state.item_replies;
    let handle = handle.as_str();
    let found = state
        .reads
        .read_with(fresh, move |pool| async move {
            db::users::show_user_page(&pool, handle, PAGE, replies).await
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    let viewer = viewer(&state, &request).await?;
    Ok(viewer_page(
        &state,
        &viewer,
        StatusCode::OK,
        pages::user(
            &viewer,
            &found.profile,
            &found.activities,
            db::users::CRUDS_COUNT_CAP,
        ),
    ))
}

async fn status(
    State(state): State<AppState>,
    request: RequestParts,
    Fresh(fresh): Fresh,
    PathParams((handle, uuid)): PathParams<(String, String)>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(query) = query.map_err(|_| ApiError::BadRequest("invalid_query"))?;
    let after = cursor(query.after.as_deref())?;
    let handle = parse_handle(&handle)?;
    let uuid = Uuid::parse_str(&uuid).map_err(|_| ApiError::NotFound)?;
    let handle = handle.as_str();
    let mut found = state
        .reads
        .read_with(fresh, move |pool| async move {
            activities::show_activity(&pool, handle, uuid, PAGE + 1, after).await
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    let more_after =
        more_than_a_page(&mut found.replies).then(|| found.replies.last().map(|reply| reply.uuid));
    let viewer = viewer(&state, &request).await?;
    Ok(viewer_page(
        &state,
        &viewer,
        StatusCode::OK,
        pages::status(
            &viewer,
            &found.activity,
            &found.replies,
            more_after.flatten(),
        ),
    ))
}
