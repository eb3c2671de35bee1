//! The HTTP client of the token and revocation calls: redirects never followed (a token request
//! carries the code, the PKCE verifier and the client secret; a redirect would hand them to
//! wherever it points), every call bounded in time and size. Plugged into `oauth2` as its
//! async client, in place of its own reqwest integration, whose body read has no cap.

use std::time::Duration;

/// Bound of one call (connect, request and answer).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest answer read (a token answer is about 4 KiB).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("cannot build the request: {0}")]
    Request(String),
    #[error("the sign-in service did not answer: {0}")]
    Transport(String),
    #[error("the sign-in service's answer: {0}")]
    Body(#[from] crate::capped_body::CappedBodyError),
}

/// The client `oauth2` calls through. A type of its own, not a closure: a closure's future is
/// `Send` only for one lifetime, which axum's handlers (`Send` for all) do not accept.
#[derive(Debug, Clone)]
pub struct Http(reqwest::Client);

impl Http {
    pub fn new() -> Result<Self, reqwest::Error> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CALL_TIMEOUT)
            .build()
            .map(Self)
    }
}

impl Http {
    /// POSTs `form` (urlencoded) to `url`, with HTTP Basic client credentials when given (each
    /// part form-urlencoded first, RFC 6749 §2.3.1); the answer's status. For the revocation
    /// call, which `oauth2` refuses to send to anything but https (loopback tests use http;
    /// the managed login's URL was checked at start: https, or plain http to loopback only).
    pub async fn post_form(
        &self,
        url: url::Url,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<reqwest::StatusCode, CallError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut request = self
            .0
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body);
        if let Some((user, password)) = basic {
            let encode =
                |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            request = request.basic_auth(encode(user), Some(encode(password)));
        }
        let answer = request
            .send()
            .await
            .map_err(|e| CallError::Transport(domain::error_chain(&e)))?;
        Ok(answer.status())
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = CallError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, CallError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(&self.0, request))
    }
}

/// Sends one `oauth2` request and reads its answer (a 3xx comes back as is, unfollowed, and
/// `oauth2` reports it as an error).
async fn send(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, CallError> {
    let request = reqwest::Request::try_from(request)
        .map_err(|e| CallError::Request(domain::error_chain(&e)))?;
    let mut answer = http
        .execute(request)
        .await
        .map_err(|e| CallError::Transport(domain::error_chain(&e)))?;
    let body = crate::capped_body::read(&mut answer, MAX_ANSWER_BYTES).await?;
    let mut response = oauth2::http::Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        response = response.header(name, value);
    }
    response
        .body(body)
        .map_err(|e| CallError::Request(domain::error_chain(&e)))
}
