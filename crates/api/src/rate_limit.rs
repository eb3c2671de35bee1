//! Rate limits on writes (create, reply, profile update), from `governor` (GCRA, keyed): per
//! client address on every write route, and per author once the author is known. A refused
//! write is `429 ["rate_limited"]` with `Retry-After`; every answer of a write route says where
//! its client stands in Mastodon's headers (`X-RateLimit-Limit`, `-Remaining`, `-Reset`), for
//! whichever of the two limits is closer to running out.
//!
//! Defaults follow the anchors: Mastodon's 300 requests per 5 minutes per address, Twitter's
//! 300 posts per 3 hours per user. Each allowance refills steadily (one write per window/limit).
//!
//! - [`allowance`]: the accounting (rates, allowances, the keyed limiters);
//! - [`headers`]: what an answer says of them;
//! - [`middleware`]: the write routes' layer.

pub mod allowance;
pub(crate) mod headers;
pub mod middleware;

pub use allowance::{
    Allowance, Rate, RateError, Refused, WriteLimiter, WriteLimits, DEFAULT_PER_ADDRESS,
    DEFAULT_PER_AUTHOR,
};
