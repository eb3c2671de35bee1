//! The fast lane for the home feed's first page: `GET /api/activities/home` with no query
//! and no `Origin` header, answered from [`FeedCache`]'s memory before routing and before the
//! layers, which a memory answer does not need — it reads no body, writes nothing, waits on
//! nothing and holds no resource that the in-flight cap or the timeout protect. Measured in
//! `bench/README.md`: the layers cost more than the answer itself.
//!
//! What the layers add to every answer is added here too, identically: the request id (the
//! client's when acceptable, else a new one), the request's log line in its span, and the
//! headers CORS puts on a request without `Origin` (taken from the CORS layer itself, see
//! [`crate::cors::headers_without_origin`]). A request with `Origin` takes the normal path,
//! where CORS decides; so does every request the cache cannot answer from memory.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::HttpBody;
use axum::extract::Request;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::Response;
use futures_util::future::{ready, Either, Ready};
use tower::Service;

use crate::feed_cache::FeedCache;
use crate::observe;
use crate::routes::paths::HOME;

/// `inner` behind the fast lane.
#[derive(Debug, Clone)]
pub struct HitLane<S> {
    cache: FeedCache,
    /// Headers every answer of the lane carries besides its own (CORS's, for no `Origin`).
    extra_headers: Arc<[(HeaderName, HeaderValue)]>,
    inner: S,
}

impl<S> HitLane<S> {
    pub fn new(cache: FeedCache, extra_headers: Vec<(HeaderName, HeaderValue)>, inner: S) -> Self {
        Self {
            cache,
            extra_headers: extra_headers.into(),
            inner,
        }
    }

    /// The answer from memory, if `request` is the lane's and the cache has a page to serve.
    fn answer(&self, request: &Request) -> Option<Response> {
        let started = Instant::now();
        let lane = request.method() == Method::GET
            && request.uri().path() == HOME
            && request.uri().query().is_none()
            && !request.headers().contains_key(header::ORIGIN);
        if !lane {
            return None;
        }
        let mut response = self.cache.respond_from_memory(request.headers())?;
        let request_id = observe::request_id_for(request.headers());
        let span = observe::span(request.method(), HOME, request_id.to_str().unwrap_or("-"));
        // What axum's routing adds to a top-level route's answer (hyper would add it on the
        // wire anyway; set here so both paths answer alike to any caller).
        let length = response.body().size_hint().exact();
        let headers = response.headers_mut();
        if let Some(length) = length {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        headers.insert(observe::REQUEST_ID_HEADER, request_id);
        for (name, value) in self.extra_headers.iter() {
            headers.append(name.clone(), value.clone());
        }
        let _entered = span.enter();
        observe::log_response(&response, started.elapsed(), &span);
        Some(response)
    }
}

impl<S> Service<Request> for HitLane<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.answer(&request) {
            Some(response) => Either::Left(ready(Ok(response))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}
