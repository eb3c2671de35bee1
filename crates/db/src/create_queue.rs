//! Group commit for new cruds. Concurrent `POST /api/activities` requests queue here; a collector
//! takes everything queued when a lane is free and writes it with one statement
//! (`create_activities_batch.sql`): one round trip, one executor start and one WAL flush for the
//! whole group instead of one per crud. A request that arrives alone is written alone, at once,
//! with the single-crud statement, so an idle server adds no delay.
//!
//! Failure keeps every request's own outcome and never writes a crud twice:
//! - the database rejected the batch statement (it answered with an SQLSTATE, so the transaction
//!   rolled back and nothing was written): each crud is retried alone and gets its own answer;
//! - no connection, or the connection broke (the batch may or may not have committed): every
//!   request of the batch gets the same `Unavailable` error and nothing is retried.

use std::sync::Arc;

use domain::NewCrud;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tracing::{Instrument, Span};

use crate::activities::create_activity;
use crate::activity::FeedItem;
use crate::error::DbError;
use crate::pool::{checkout, Pool};

/// What a create request gets back: the crud, `None` when the author handle is unknown.
pub type CreateOutcome = Result<Option<FeedItem>, DbError>;

/// Tunables of [`CreateQueue`].
#[derive(Debug, Clone, Copy)]
pub struct CreateQueueSettings {
    /// Batches that may be in flight at once (each holds one pooled connection).
    pub lanes: usize,
    /// Most cruds per statement.
    pub max_batch: usize,
}

impl Default for CreateQueueSettings {
    fn default() -> Self {
        Self {
            lanes: 4,
            max_batch: 32,
        }
    }
}

/// Requests waiting for the collector beyond this make senders wait (backpressure).
const QUEUE_CAPACITY: usize = 1024;

struct Pending {
    crud: NewCrud,
    reply: oneshot::Sender<CreateOutcome>,
    /// The requester's span: what is logged about this crud belongs to its request.
    span: Span,
}

impl Pending {
    /// Answers the requester, logging a written crud inside the request's span.
    fn answer(self, outcome: CreateOutcome) {
        if let Ok(Some(item)) = &outcome {
            self.span.in_scope(|| {
                tracing::info!(activity_uuid = %item.activity.uuid, ttl = %self.crud.ttl, "activity created");
            });
        }
        // The requester may have gone (client disconnected): nothing to tell.
        let _ = self.reply.send(outcome);
    }

    /// Writes this crud alone, inside the request's span.
    async fn write_alone(self, pool: &Pool) {
        let outcome = create_activity(pool, &self.crud)
            .instrument(self.span.clone())
            .await;
        self.answer(outcome);
    }
}

/// The handle requests use; cheap to clone. The collector task stops when every handle is gone.
#[derive(Debug, Clone)]
pub struct CreateQueue {
    tx: mpsc::Sender<Pending>,
}

impl CreateQueue {
    /// Starts the collector on the current tokio runtime.
    pub fn start(pool: Pool, settings: CreateQueueSettings) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(collect(pool, settings, rx));
        Self { tx }
    }

    /// Requests waiting for a lane (not yet taken by the collector).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Creates a crud, possibly together with others queued at the same moment.
    pub async fn create(&self, crud: NewCrud) -> CreateOutcome {
        let (reply, outcome) = oneshot::channel();
        self.tx
            .send(Pending {
                crud,
                reply,
                span: Span::current(),
            })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

fn stopped() -> DbError {
    DbError::Unavailable {
        reason: "the create queue has stopped".into(),
    }
}

/// Waits for a free lane, then for the first request, then takes whatever else is already
/// queued: while every lane is busy, requests pile up and leave together.
async fn collect(pool: Pool, settings: CreateQueueSettings, mut rx: mpsc::Receiver<Pending>) {
    let lanes = Arc::new(Semaphore::new(settings.lanes.max(1)));
    let max_batch = settings.max_batch.max(1);
    loop {
        let Ok(lane) = Arc::clone(&lanes).acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            write(&pool, batch).await;
            drop(lane);
        });
    }
}

async fn write(pool: &Pool, mut batch: Vec<Pending>) {
    // A request whose client has gone before its crud was sent is dropped, as it would have
    // been without the queue.
    batch.retain(|p| !p.reply.is_closed());
    if batch.len() <= 1 {
        if let Some(only) = batch.pop() {
            only.write_alone(pool).await;
        }
        return;
    }
    let cruds: Vec<&NewCrud> = batch.iter().map(|p| &p.crud).collect();
    match insert_batch(pool, &cruds).await {
        Ok(items) => {
            for (pending, item) in batch.into_iter().zip(items) {
                pending.answer(Ok(item));
            }
        }
        Err(BatchFailure::RolledBack(e)) => {
            tracing::warn!(size = batch.len(), sqlstate = ?e.code().map(|c| c.code()),
                "batch create rejected; writing its cruds one by one");
            for pending in batch {
                pending.write_alone(pool).await;
            }
        }
        Err(BatchFailure::Unknown(e)) => {
            // Each request's own log line carries this cause; no separate line for the batch.
            for pending in batch {
                pending.answer(Err(e.duplicate()));
            }
        }
    }
}

enum BatchFailure {
    /// The server rejected the statement: its transaction rolled back, nothing was written.
    RolledBack(tokio_postgres::Error),
    /// Not known to have been rejected by the server (no connection, or it broke).
    Unknown(DbError),
}

impl From<tokio_postgres::Error> for BatchFailure {
    fn from(e: tokio_postgres::Error) -> Self {
        if e.as_db_error().is_some() {
            Self::RolledBack(e)
        } else {
            Self::Unknown(e.into())
        }
    }
}

/// Writes the cruds in one statement; the result has one entry per input, in input order.
async fn insert_batch(
    pool: &Pool,
    cruds: &[&NewCrud],
) -> Result<Vec<Option<FeedItem>>, BatchFailure> {
    let client = checkout(pool).await.map_err(BatchFailure::Unknown)?;
    let statement = client
        .prepare_cached(include_str!(
            "../sql/activities/create_activities_batch.sql"
        ))
        .await?;
    let handles: Vec<&str> = cruds.iter().map(|c| c.author.as_str()).collect();
    let messages: Vec<&str> = cruds.iter().map(|c| c.message.as_str()).collect();
    let ttls: Vec<i64> = cruds.iter().map(|c| c.ttl.seconds()).collect();
    let rows = client
        .query(&statement, &[&handles, &messages, &ttls])
        .await?;
    let mut items: Vec<Option<FeedItem>> = vec![None; cruds.len()];
    for row in &rows {
        let ord: i64 = row.try_get("ord")?;
        let index = usize::try_from(ord - 1)
            .ok()
            .filter(|i| *i < cruds.len())
            .ok_or_else(|| {
                BatchFailure::Unknown(DbError::Unavailable {
                    reason: format!(
                        "batch create answered position {ord} for {} inputs",
                        cruds.len()
                    ),
                })
            })?;
        items[index] = Some(FeedItem::from_row(row)?);
    }
    Ok(items)
}
