//! Where a client stands against the write limits, told in headers: `Retry-After` on a refusal,
//! Mastodon's `X-RateLimit-*` on every answer of a write route.

use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;

use super::allowance::Allowance;

/// An allowance for the write-limit middleware to report, in a response's extensions: the
/// author's, put there by the handler, or a refused one, put there by the `429` itself.
#[derive(Debug, Clone, Copy)]
struct ReportedAllowance(Allowance);

/// Marks `response` as a refusal for `allowance`: when to retry, and the allowance to report.
pub(crate) fn refused(response: &mut Response, allowance: Allowance) {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(allowance.retry_after_secs()),
    );
    response
        .extensions_mut()
        .insert(ReportedAllowance(allowance));
}

/// A write's answer, success or refusal, carrying the author's allowance for the middleware.
pub(crate) fn with_author_allowance(
    mut response: Response,
    allowance: Option<Allowance>,
) -> Response {
    if let Some(allowance) = allowance {
        response
            .extensions_mut()
            .insert(ReportedAllowance(allowance));
    }
    response
}

/// The allowance a handler or a refusal put on `response`.
pub(crate) fn reported(response: &Response) -> Option<Allowance> {
    response
        .extensions()
        .get::<ReportedAllowance>()
        .map(|reported| reported.0)
}

/// Mastodon's headers for `allowance`.
pub(crate) fn write_rate_headers(allowance: &Allowance, headers: &mut HeaderMap) {
    let reset = chrono::Utc::now()
        + chrono::Duration::from_std(allowance.full_in).unwrap_or(chrono::Duration::zero());
    let reset = reset.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for (name, value) in [
        ("x-ratelimit-limit", allowance.limit.to_string()),
        ("x-ratelimit-remaining", allowance.remaining.to_string()),
        ("x-ratelimit-reset", reset),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}
