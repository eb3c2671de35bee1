//! Which browser origins may call the API (CORS). Origins are validated when the server starts,
//! so a typo is a one-line error, never a silently open or silently closed API.

use axum::http::{header, HeaderName, HeaderValue, Method, Request, Response};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The Cruddur frontend's development origins, allowed in dev mode when `FRONTEND_URL` is unset.
pub const DEV_FRONTEND_ORIGINS: [&str; 2] = ["http://localhost:3000", "http://127.0.0.1:3000"];

/// How long browsers may cache a preflight answer.
const MAX_AGE: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginError {
    #[error("FRONTEND_URL `{0}` is not an origin: expected scheme://host[:port] (http or https, no path, no *)")]
    NotAnOrigin(String),
    #[error("FRONTEND_URL lists no origin")]
    Empty,
}

/// Parses `FRONTEND_URL`: one or more comma-separated origins (`scheme://host[:port]`, a trailing
/// `/` tolerated), each normalised the way browsers send them (lower-case scheme and host, no
/// default port).
pub fn parse_origins(raw: &str) -> Result<Vec<HeaderValue>, OriginError> {
    let origins: Vec<HeaderValue> = raw
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(parse_origin)
        .collect::<Result<_, _>>()?;
    if origins.is_empty() {
        return Err(OriginError::Empty);
    }
    Ok(origins)
}

fn parse_origin(text: &str) -> Result<HeaderValue, OriginError> {
    let refuse = || OriginError::NotAnOrigin(text.to_owned());
    if text.contains('*') {
        return Err(refuse());
    }
    let url = url::Url::parse(text).map_err(|_| refuse())?;
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
    let plain = url.username().is_empty() && url.password().is_none();
    if !matches!(url.scheme(), "http" | "https") || !bare || !plain || url.host().is_none() {
        return Err(refuse());
    }
    // ascii_serialization is exactly what a browser puts in its Origin header.
    HeaderValue::from_str(&url.origin().ascii_serialization()).map_err(|_| refuse())
}

/// The CORS layer for `origins`: only those origins, only the methods the routes use, only the
/// headers the frontend sends.
pub fn layer(origins: Vec<HeaderValue>) -> CorsLayer {
    CorsLayer::new()
        // A list, not `exact`: other origins get no Access-Control-Allow-Origin at all.
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(crate::idempotency::IDEMPOTENCY_KEY_HEADER),
        ])
        // Not CORS-safelisted, so a browser hides them from the frontend unless exposed: when to
        // retry (429, 503), how much allowance is left, the id to quote in a bug report, and
        // whether a keyed write was a repeat.
        .expose_headers([
            header::RETRY_AFTER,
            HeaderName::from_static(crate::idempotency::REPLAYED_HEADER),
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(MAX_AGE)
}

/// The headers [`layer`] adds to an answer to a request without `Origin` (a same-origin or
/// non-browser one): read from the layer itself, by running it once over an empty answer, so
/// paths that skip the layer ([`crate::hit_lane`]) answer exactly as it would.
pub fn headers_without_origin(
    origins: Vec<HeaderValue>,
) -> Result<Vec<(HeaderName, HeaderValue)>, CorsProbeError> {
    use std::future::Future;
    use tower::{Layer, Service};

    let mut cors = layer(origins).layer(tower::service_fn(|_request: Request<()>| async {
        Ok::<_, std::convert::Infallible>(Response::new(()))
    }));
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    // Every part of it is ready at once (a fixed origin list, a service that answers at once);
    // anything else is refused rather than waited for.
    if !matches!(
        cors.poll_ready(&mut context),
        std::task::Poll::Ready(Ok(()))
    ) {
        return Err(CorsProbeError);
    }
    let request = Request::get("/").body(()).map_err(|_| CorsProbeError)?;
    let mut answer = std::pin::pin!(cors.call(request));
    match answer.as_mut().poll(&mut context) {
        std::task::Poll::Ready(Ok(response)) => Ok(response
            .headers()
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()),
        _ => Err(CorsProbeError),
    }
}

/// The CORS layer did not answer a probe at once.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the CORS layer did not answer a probe request at once")]
pub struct CorsProbeError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_origins_is_normalised_as_browsers_send_them() {
        let parsed =
            parse_origins(" http://localhost:3000/, HTTPS://Cruddur.Example.com:443 ,").unwrap();
        assert_eq!(
            parsed,
            [
                HeaderValue::from_static("http://localhost:3000"),
                HeaderValue::from_static("https://cruddur.example.com"),
            ]
        );
    }

    #[test]
    fn anything_but_an_origin_is_refused_by_name() {
        for bad in [
            "*",
            "http://*.example.com",
            "localhost:3000",
            "ftp://example.com",
            "http://example.com/app",
            "http://example.com/?x=1",
            "http://user:pw@example.com",
            "not a url",
        ] {
            assert_eq!(
                parse_origins(bad),
                Err(OriginError::NotAnOrigin(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(parse_origins(" , "), Err(OriginError::Empty));
    }
}
