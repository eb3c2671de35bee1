//! The answers every writing route may give besides its own, documented once.

/// The answers every writing route (create, reply, profile update) may give besides its own,
/// documented once. Never constructed: it exists for the document.
#[derive(Debug, utoipa::IntoResponses)]
pub enum WriteRejections {
    #[response(status = 413, description = "`payload_too_large`")]
    PayloadTooLarge(Vec<String>),
    #[response(status = 415, description = "`unsupported_media_type`")]
    UnsupportedMediaType(Vec<String>),
    #[response(
        status = 401,
        description = "`unauthorized` (cognito mode: no valid access token)"
    )]
    Unauthorized(Vec<String>),
    #[response(
        status = 403,
        description = "`forbidden` (cognito mode: `user_handle` names another user), or `[\"forbidden\", \"user_handle_invalid\"]` (the token's user has a handle from before the handle rule and must be renamed first)"
    )]
    Forbidden(Vec<String>),
    #[response(
        status = 429,
        description = "`rate_limited`: the client address or the author has used up their write allowance (see `Retry-After`; every write's answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`)"
    )]
    RateLimited(Vec<String>),
    #[response(
        status = 503,
        description = "`auth_unavailable` (cognito mode: the pool's keys cannot be fetched), `database_unavailable`, `timeout` (past the request timeout), or `overloaded` (too many requests in flight, or too many clients tracked by the write limits; with `Retry-After`)"
    )]
    Unavailable(Vec<String>),
}
