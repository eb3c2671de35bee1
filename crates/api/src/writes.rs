//! Every write the service makes. Each one drops the cached first page of the home feed before
//! it returns, so no handler can answer a write while the cache still shows the page from
//! before it (other servers' writes arrive by NOTIFY, which may come later).

use db::activities::ReplyOutcome;
use db::activity::CrudRow;
use db::idempotency::KeyedOutcome;
use db::users::UserShortRow;
use db::{CreateQueue, DbError, Pool};
use domain::{Handle, IdempotencyKey, NewCrud, NewReply, ProfileUpdate};
use uuid::Uuid;

use crate::feed_cache::FeedCache;

/// The service's writes, and the cache they invalidate.
#[derive(Debug, Clone)]
pub(crate) struct Writes {
    /// The primary.
    pool: Pool,
    /// New cruds: concurrent creates share a statement and a commit.
    creates: CreateQueue,
    feed_cache: Option<FeedCache>,
}

impl Writes {
    pub(crate) fn new(pool: Pool, creates: CreateQueue, feed_cache: Option<FeedCache>) -> Self {
        Self {
            pool,
            creates,
            feed_cache,
        }
    }

    /// A new crud; `None` when its author is unknown.
    pub(crate) async fn create(&self, crud: NewCrud) -> Result<Option<CrudRow>, DbError> {
        let created = self.creates.create(crud).await;
        self.drop_cached_page();
        created
    }

    /// A new crud unless its author used `key` within 24 hours (see `crate::idempotency`).
    pub(crate) async fn create_once(
        &self,
        crud: &NewCrud,
        key: &IdempotencyKey,
    ) -> Result<KeyedOutcome, DbError> {
        let created = db::idempotency::create_once(&self.pool, crud, key).await;
        self.drop_cached_page();
        created
    }

    /// A reply to `parent` unless its author used `key` within 24 hours.
    pub(crate) async fn reply_once(
        &self,
        parent: Uuid,
        reply: &NewReply,
        key: &IdempotencyKey,
    ) -> Result<KeyedOutcome, DbError> {
        let replied = db::idempotency::reply_once(&self.pool, parent, reply, key).await;
        self.drop_cached_page();
        replied
    }

    /// A reply to `parent`.
    pub(crate) async fn reply(
        &self,
        parent: Uuid,
        reply: &NewReply,
    ) -> Result<ReplyOutcome, DbError> {
        let replied = db::activities::create_reply(&self.pool, parent, reply).await;
        self.drop_cached_page();
        replied
    }

    /// `author`'s display name and bio (cards show the display name); `None`: no such user.
    pub(crate) async fn update_profile(
        &self,
        author: &Handle,
        update: &ProfileUpdate,
    ) -> Result<Option<UserShortRow>, DbError> {
        let updated = db::users::update_profile(&self.pool, author.as_str(), update).await;
        self.drop_cached_page();
        updated
    }

    /// Whatever the outcome: a write that failed may still have committed (a connection lost
    /// after the commit), and dropping a current page costs one rebuild.
    fn drop_cached_page(&self) {
        if let Some(cache) = &self.feed_cache {
            cache.invalidate();
        }
    }
}
