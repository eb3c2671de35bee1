//! The flags and environment of `serve` and `up`, grouped by the config section each becomes;
//! [`ServeArgs::app_config`] turns them into the one [`api::AppConfig`] the service is built from.

mod auth;
mod database;
mod http;
mod write_limits;

use std::time::Duration;

pub(crate) use auth::AuthArgs;
pub(crate) use database::DatabaseArgs;
pub(crate) use http::HttpArgs;
pub(crate) use write_limits::WriteLimitArgs;

use crate::target::Target;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub http: HttpArgs,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Purge expired cruds (as `cruddur db purge` does, one bounded run) every this many
    /// seconds; 0 (the default) never.
    #[arg(long, env = "PURGE_EVERY_SECS", default_value_t = 0)]
    pub purge_every_secs: u64,
    /// Read the home feed's first page from the database on every request instead of keeping
    /// it in memory (kept exact by LISTEN/NOTIFY; see the README's "Feed cache").
    #[arg(long, env = "NO_FEED_CACHE")]
    pub no_feed_cache: bool,
    /// Replies a feed or user-page item carries, its newest (replies_count stays the total; the
    /// status page pages through them all). Keeps every page bounded whatever one crud attracts.
    #[arg(long, env = "FEED_ITEM_REPLIES", default_value_t = db::activities::DEFAULT_ITEM_REPLIES as u8, value_parser = clap::value_parser!(u8).range(0..=20))]
    pub feed_item_replies: u8,
    #[command(flatten)]
    pub write_limits: WriteLimitArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl ServeArgs {
    /// The service's config with `target` as the primary database.
    pub(crate) fn app_config(&self, target: &Target) -> anyhow::Result<api::AppConfig> {
        Ok(api::AppConfig {
            database: self.database.config(target)?,
            http: self.http.config()?,
            author: self.auth.config()?,
            write_limits: self.write_limits.config(),
            feed: api::FeedConfig {
                cache: !self.no_feed_cache,
                item_replies: i64::from(self.feed_item_replies),
            },
            purge_every: (self.purge_every_secs > 0)
                .then(|| Duration::from_secs(self.purge_every_secs)),
            sign_in: self.auth.sign_in()?,
        })
    }
}
