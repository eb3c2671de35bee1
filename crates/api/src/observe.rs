//! One log line per request, in a span that names the request: method, route template and
//! request id (`x-request-id`, accepted from the client when it looks like an id, else
//! generated; echoed on the response). The line gives status and latency, and the cause of an
//! error response ([`ErrorCause`], put in the response's extensions by `ApiError`), so every
//! error is logged exactly once.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::Response;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::error::{ErrorCause, Severity};

/// The request id header, read and written.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent request id kept; longer or odd ones are replaced by a generated one, so a
/// client cannot write arbitrary text into the logs.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether a client's request id is kept: 1–64 of `A-Z a-z 0-9 - _ . :`.
fn acceptable_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Drops a client's request id that is not [`acceptable_request_id`], before an id is set.
pub async fn screen_request_id(mut request: Request) -> Request {
    let keep = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .is_none_or(acceptable_request_id);
    if !keep {
        request.headers_mut().remove(&REQUEST_ID_HEADER);
    }
    request
}

/// Sets a request id where the client gave none (a UUID v4).
pub fn set_request_id() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::new(REQUEST_ID_HEADER, MakeRequestUuid)
}

/// Copies the request id onto the response.
pub fn propagate_request_id() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(REQUEST_ID_HEADER)
}

type RequestTrace = TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    fn(&Request) -> Span,
    (),
    fn(&Response, Duration, &Span),
    (),
    (),
    (),
>;

/// The span of each request and its one log line.
pub fn trace() -> RequestTrace {
    TraceLayer::new_for_http()
        .make_span_with(request_span as fn(&Request) -> Span)
        .on_request(())
        .on_response(log_response as fn(&Response, Duration, &Span))
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

fn request_span(request: &Request) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or("-");
    span(request.method(), route, request_id)
}

/// The span a request's log line is written in.
pub fn span(method: &Method, route: &str, request_id: &str) -> Span {
    tracing::info_span!("request", method = %method, route, request_id)
}

/// The request id a request is answered with: the client's, when [`acceptable_request_id`],
/// else a new UUID v4 (what [`set_request_id`] does, for paths that skip the layers).
pub fn request_id_for(headers: &HeaderMap) -> HeaderValue {
    match headers.get(&REQUEST_ID_HEADER) {
        Some(id) if acceptable_request_id(id) => id.clone(),
        _ => HeaderValue::try_from(uuid::Uuid::new_v4().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("-")),
    }
}

/// Writes a request's one log line (call inside its [`span`]).
pub fn log_response(response: &Response, latency: Duration, _span: &Span) {
    let status = response.status().as_u16();
    let latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    match response.extensions().get::<ErrorCause>() {
        None => tracing::info!(status, latency_us, "request"),
        Some(cause) => match cause.severity {
            Severity::Client => tracing::info!(status, latency_us, error = %cause.text, "request"),
            Severity::Degraded => {
                tracing::warn!(status, latency_us, error = %cause.text, "request")
            }
            Severity::Defect => tracing::error!(status, latency_us, error = %cause.text, "request"),
        },
    }
}
