//! The write rate limits of `serve` and `up`, turned into [`api::rate_limit::WriteLimits`].

use api::rate_limit::{Rate, WriteLimits};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WriteLimitArgs {
    /// Writes (create, reply, profile update) allowed per client address: N/window, refilled
    /// steadily (window in s, m or h).
    #[arg(long, env = "WRITE_LIMIT_PER_ADDRESS", default_value = api::rate_limit::DEFAULT_PER_ADDRESS)]
    pub write_limit_per_address: Rate,
    /// Writes allowed per author, N/window like the per-address limit.
    #[arg(long, env = "WRITE_LIMIT_PER_AUTHOR", default_value = api::rate_limit::DEFAULT_PER_AUTHOR)]
    pub write_limit_per_author: Rate,
    /// Proxies in front of the server that append the client to X-Forwarded-For (an AWS load
    /// balancer: 1). 0: the client is the TCP peer and X-Forwarded-For is ignored.
    #[arg(long, env = "TRUST_PROXY_HOPS", default_value_t = 0)]
    pub trust_proxy_hops: usize,
    /// Turn the write rate limits off (for benchmarks that write from one address). Unsafe on a
    /// server anyone can reach.
    #[arg(long)]
    pub no_write_limits: bool,
}

impl WriteLimitArgs {
    pub(crate) fn config(&self) -> WriteLimits {
        if self.no_write_limits {
            return WriteLimits::OFF;
        }
        WriteLimits {
            per_address: Some(self.write_limit_per_address),
            per_author: Some(self.write_limit_per_author),
            trust_proxy_hops: self.trust_proxy_hops,
        }
    }
}
