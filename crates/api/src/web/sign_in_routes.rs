//! `/auth/sign-in`, `/auth/callback` and `/auth/sign-out` ([`crate::sign_in`]'s pages): mounted
//! only when sign-in on the page is configured. Every answer is `Cache-Control: no-store` (it sets or clears a credential).

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::pages;
use crate::error::ApiError;
use crate::sign_in::{cookies, Callback, SignInError};
use crate::state::AppState;
use crate::web;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/sign-in", get(sign_in))
        .route("/auth/callback", get(callback))
        .route("/auth/sign-out", post(sign_out))
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    pub return_to: Option<String>,
}

/// A 303 to `location` with `cookies` set.
fn see_other(location: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    // Every location made here is ASCII (`transaction::local_path`, URLs); home otherwise.
    let location =
        HeaderValue::from_str(location).unwrap_or_else(|_| HeaderValue::from_static("/"));
    headers.insert(header::LOCATION, location);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie.clone());
    }
    no_store(response)
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page saying why a sign-in failed, with a way to try again; the transaction cookie cleared.
fn failed(status: StatusCode, heading: &str, sentence: &str, api: Option<ApiError>) -> Response {
    let mut response = web::page(status, pages::sign_in_failed(heading, sentence));
    if let Some(api) = api {
        // The cause, for the request's log line.
        response
            .extensions_mut()
            .extend(api.into_response().extensions().clone());
    }
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookies::clear(cookies::SIGN_IN));
    no_store(response)
}

async fn sign_in(
    State(state): State<AppState>,
    query: Result<Query<SignInQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(sign_in) = &state.sign_in else {
        return ApiError::NoRoute.into_response();
    };
    let return_to = query.ok().and_then(|Query(q)| q.return_to);
    match sign_in.begin(&state.pool, return_to.as_deref()).await {
        Ok((url, sealed)) => see_other(
            url.as_str(),
            &[cookies::set(
                cookies::SIGN_IN,
                &sealed,
                crate::sign_in::transaction::LIFETIME,
            )],
        ),
        Err(e) => failed(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable",
            "The database is not answering, so sign-in cannot begin. Try again in a moment.",
            Some(ApiError::from(e)),
        ),
    }
}

async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(sign_in) = &state.sign_in else {
        return ApiError::NoRoute.into_response();
    };
    let callback = query.map(|Query(q)| q).unwrap_or_default();
    let sealed = cookies::read(&headers, cookies::SIGN_IN);
    let old = cookies::read(&headers, cookies::SESSION).and_then(crate::sign_in::session_key);
    match sign_in.finish(&state.pool, sealed, &callback).await {
        Ok(session) => {
            // A sign-in over a live session replaces it: its row goes (its refresh token
            // revoked), its id is never reused.
            if let Some(old) = old {
                if let Err(e) = sign_in.end(&state.pool, &old).await {
                    tracing::warn!(error = %e, "could not end the session a sign-in replaced");
                }
            }
            see_other(
                &session.return_to,
                &[
                    cookies::set(
                        cookies::SESSION,
                        &session.cookie,
                        sign_in.config().lifetimes.max,
                    ),
                    cookies::clear(cookies::SIGN_IN),
                ],
            )
        }
        Err(e) => {
            tracing::info!(error = %e, "sign-in refused");
            let (status, heading, sentence) = describe(&e);
            let api = match e {
                SignInError::Database(db) => Some(ApiError::from(db)),
                SignInError::Unavailable(why) => Some(ApiError::AuthUnavailable(why)),
                _ => None,
            };
            failed(status, heading, sentence, api)
        }
    }
}

/// What the person reads for each failure.
fn describe(error: &SignInError) -> (StatusCode, &'static str, &'static str) {
    match error {
        SignInError::NoTransaction => (
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            "This sign-in was not begun in this browser, or it took longer than ten minutes. \
             Sign in again.",
        ),
        SignInError::StateMismatch => (
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "The answer from the sign-in page does not belong to the sign-in begun in this \
             browser (another tab may have started a newer one). Sign in again.",
        ),
        SignInError::Refused(_) => (
            StatusCode::BAD_REQUEST,
            "Sign-in cancelled",
            "The sign-in page did not sign you in. Sign in again.",
        ),
        SignInError::CodeRefused(_) => (
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "The sign-in could not be completed: its one-time code was refused (it may have \
             been used already, or been meant for another browser). Sign in again.",
        ),
        SignInError::BadTokens(_) => (
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            "The sign-in service's answer did not pass the server's checks, so you are not \
             signed in. Sign in again.",
        ),
        SignInError::NoUser => (
            StatusCode::FORBIDDEN,
            "No Cruddur account",
            "You signed in, but no Cruddur profile is recorded for your account (sign-up did \
             not finish). Ask the site's operator.",
        ),
        SignInError::Unavailable(_) | SignInError::Database(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in is unavailable",
            "A service sign-in needs is not answering. Try again in a moment.",
        ),
    }
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(sign_in) = &state.sign_in else {
        return ApiError::NoRoute.into_response();
    };
    // A cross-site form could sign people out: the same check as a page write.
    if !crate::sign_in::csrf::same_origin(&headers, sign_in.site_origin()) {
        return web::PageError::from(ApiError::CrossSite).into_response();
    }
    match sign_in.sign_out(&state.pool, &headers).await {
        Ok(logout) => {
            tracing::info!("signed out");
            see_other(logout.as_str(), &[cookies::clear(cookies::SESSION)])
        }
        Err(e) => no_store(web::PageError::from(e).into_response()),
    }
}
