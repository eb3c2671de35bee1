//! Group commit for new cruds. Concurrent `POST /api/activities` requests queue here; a collector
//! takes everything queued when a lane is free and writes it with one statement
//! (`create_activities_batch.sql`): one round trip, one executor start and one WAL flush for the
//! whole group instead of one per crud. A request that arrives alone is written alone, at once,
//! with the single-crud statement, so an idle server adds no delay.
//!
//! Every crud's uuid is chosen here, before anything is sent, and both statements insert with
//! `ON CONFLICT (uuid) DO NOTHING`: sending the same cruds again can never write one twice.
//! InsertFailure keeps every request's own outcome:
//! - the database rejected the *data* (SQLSTATE class 22 or 23; the transaction rolled back, so
//!   nothing was written): the cruds of a batch are retried one by one, so only the bad one fails;
//! - any other answer from the database about the statement (statement timeout, too many
//!   connections, a read-only standby after a failover, …), or no connection at all: nothing was
//!   written, and the same error is answered to the whole batch at once — retrying one by one
//!   would only multiply the load on a database that is already failing;
//! - the connection broke while the statement was out, or the server ended the session (57P0x:
//!   a shutdown or crash can strike after the commit record is durable but before the answer):
//!   it may have committed, so the outcome is resolved, not guessed. The same cruds are sent
//!   again on another connection; that insert waits for the first transaction if it is still
//!   running (same primary keys), writes what it did not, and then every crud is read back by
//!   uuid. If that resend is rejected for its data, nothing of the batch was written and its
//!   cruds are written one by one as above. Only when the database stays out of reach for
//!   [`CreateQueueSettings::resolve_within`] is the request told `Unavailable`, and the uuids
//!   whose fate is unknown are logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use domain::NewCrud;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;
use tracing::{Instrument, Span};
use uuid::Uuid;

use crate::activity::CrudRow;
use crate::error::{is_data_rejection, DbError};
use crate::pool::{checkout, Pool};
use crate::statement::{CARDS_BY_UUID, CREATE_ACTIVITIES_BATCH, CREATE_ACTIVITY};

/// What a create request gets back: the crud, `None` when the author handle is unknown.
pub type CreateOutcome = Result<Option<CrudRow>, DbError>;

/// Tunables of [`CreateQueue`].
#[derive(Debug, Clone, Copy)]
pub struct CreateQueueSettings {
    /// Batches that may be in flight at once (each holds one pooled connection).
    pub lanes: usize,
    /// Most cruds per statement.
    pub max_batch: usize,
    /// How long an unknown outcome (connection lost mid-statement) is tried to be resolved
    /// before the requests are told the database is unavailable.
    pub resolve_within: Duration,
}

impl Default for CreateQueueSettings {
    /// One lane: every create commit notifies the feed caches (migration V7), and PostgreSQL
    /// serializes notifying commits under one lock held through the WAL flush, so a second
    /// batch in flight only waits for that lock while taking requests away from the next
    /// batch. Measured (bench/README.md, "Issue 26"): one lane against four, 4,879 against 3,483
    /// creates/s at c = 8 and 11,345 against 8,573 at c = 32, with 124 against 274 µs of
    /// PostgreSQL CPU per create at c = 8.
    fn default() -> Self {
        Self {
            lanes: 1,
            max_batch: 32,
            resolve_within: Duration::from_secs(3),
        }
    }
}

/// Requests waiting for the collector beyond this make senders wait (backpressure).
const QUEUE_CAPACITY: usize = 1024;
/// Pause between attempts to resolve an unknown outcome.
const RESOLVE_PAUSE: Duration = Duration::from_millis(100);

struct Pending {
    /// Chosen before the crud is sent, so its fate can be looked up if the answer is lost.
    uuid: Uuid,
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
}

/// The handle requests use; cheap to clone. The collector task stops when every handle is gone.
#[derive(Debug, Clone)]
pub struct CreateQueue {
    tx: mpsc::Sender<Pending>,
    statements: Arc<AtomicU64>,
}

impl CreateQueue {
    /// Starts the collector on the current tokio runtime.
    pub fn start(pool: Pool, settings: CreateQueueSettings) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let statements = Arc::new(AtomicU64::new(0));
        let writer = Arc::new(Writer {
            pool,
            resolve_within: settings.resolve_within,
            statements: Arc::clone(&statements),
        });
        tokio::spawn(collect(writer, settings, rx));
        Self { tx, statements }
    }

    /// Requests waiting for a lane (not yet taken by the collector).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Insert statements sent so far (batches, single cruds, retries and resolutions): what
    /// failures cost the database.
    pub fn statements_sent(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Creates a crud, possibly together with others queued at the same moment.
    pub async fn create(&self, crud: NewCrud) -> CreateOutcome {
        let (reply, outcome) = oneshot::channel();
        self.tx
            .send(Pending {
                uuid: Uuid::new_v4(),
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
    DbError::unavailable("the create queue has stopped")
}

/// Waits for a free lane, then for the first request, then takes whatever else is already
/// queued: while every lane is busy, requests pile up and leave together.
async fn collect(
    writer: Arc<Writer>,
    settings: CreateQueueSettings,
    mut rx: mpsc::Receiver<Pending>,
) {
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
        let writer = Arc::clone(&writer);
        tokio::spawn(async move {
            writer.write(batch).await;
            drop(lane);
        });
    }
}

/// Why an insert statement did not give its rows.
enum InsertFailure {
    /// The database rejected the data (class 22/23): rolled back, nothing written.
    Rejected(DbError),
    /// Nothing was written: the database refused for another reason, or the statement was never
    /// sent (no connection).
    NotWritten(DbError),
    /// The connection broke while the statement was out: it may have committed.
    Unknown(DbError),
}

impl InsertFailure {
    /// Classifies an error of the statement that writes (`sent`: it may have reached the server).
    fn of(e: tokio_postgres::Error, sent: bool) -> Self {
        let code = e.as_db_error().map(|db| db.code().code().to_owned());
        let error = DbError::from(e);
        match code {
            Some(code) if is_data_rejection(&code) => Self::Rejected(error),
            // The session was ended under the statement: it may have got past its commit.
            Some(code) if sent && code.starts_with("57P") => Self::Unknown(error),
            // The server answered about the statement: its transaction did not commit.
            Some(_) => Self::NotWritten(error),
            None if sent && error.is_unavailable() => Self::Unknown(error),
            // Never sent, or a failure of ours (encoding, decoding).
            None => Self::NotWritten(error),
        }
    }
}

struct Writer {
    pool: Pool,
    resolve_within: Duration,
    statements: Arc<AtomicU64>,
}

impl Writer {
    async fn write(&self, mut batch: Vec<Pending>) {
        // A request whose client has gone before its crud was sent is dropped, as it would have
        // been without the queue.
        batch.retain(|p| !p.reply.is_closed());
        let span = match batch.as_slice() {
            [] => return,
            [only] => only.span.clone(),
            _ => Span::none(),
        };
        match self.insert(&batch).instrument(span).await {
            Ok(items) => answer_all(batch, items),
            Err(InsertFailure::Rejected(e)) if batch.len() > 1 => {
                tracing::warn!(
                    size = batch.len(),
                    sqlstate = e.sqlstate(),
                    "batch create rejected by the database; writing its cruds one by one"
                );
                for pending in batch {
                    self.write_alone(pending).await;
                }
            }
            Err(InsertFailure::Rejected(e) | InsertFailure::NotWritten(e)) => {
                answer_error(batch, &e)
            }
            Err(InsertFailure::Unknown(e)) => self.resolve(batch, e).await,
        }
    }

    /// Writes one crud of a rejected batch on its own, inside its request's span.
    async fn write_alone(&self, pending: Pending) {
        let span = pending.span.clone();
        let batch = vec![pending];
        match self.insert(&batch).instrument(span).await {
            Ok(items) => answer_all(batch, items),
            Err(InsertFailure::Rejected(e) | InsertFailure::NotWritten(e)) => {
                answer_error(batch, &e)
            }
            Err(InsertFailure::Unknown(e)) => self.resolve(batch, e).await,
        }
    }

    /// Writes the cruds in one statement; one entry per input, in input order.
    async fn insert(&self, batch: &[Pending]) -> Result<Vec<Option<CrudRow>>, InsertFailure> {
        let client = checkout(&self.pool)
            .await
            .map_err(InsertFailure::NotWritten)?;
        self.insert_on(&client, batch).await
    }

    async fn insert_on(
        &self,
        client: &deadpool_postgres::ClientWrapper,
        batch: &[Pending],
    ) -> Result<Vec<Option<CrudRow>>, InsertFailure> {
        if let [only] = batch {
            let on = self.pool.statements_on(client);
            on.ready(&CREATE_ACTIVITY)
                .await
                .map_err(|e| InsertFailure::of(e, false))?;
            self.statements.fetch_add(1, Ordering::Relaxed);
            let row = on
                .query_opt(
                    &CREATE_ACTIVITY,
                    &[
                        &only.crud.author.as_str(),
                        &only.crud.message.as_str(),
                        &only.crud.ttl.seconds(),
                        &only.uuid,
                    ],
                )
                .await
                .map_err(|e| InsertFailure::of(e, true))?;
            let item = row
                .map(|r| CrudRow::from_row(&r))
                .transpose()
                .map_err(|e| InsertFailure::NotWritten(e.into()))?;
            return Ok(vec![item]);
        }
        let on = self.pool.statements_on(client);
        on.ready(&CREATE_ACTIVITIES_BATCH)
            .await
            .map_err(|e| InsertFailure::of(e, false))?;
        let handles: Vec<&str> = batch.iter().map(|p| p.crud.author.as_str()).collect();
        let messages: Vec<&str> = batch.iter().map(|p| p.crud.message.as_str()).collect();
        let ttls: Vec<i64> = batch.iter().map(|p| p.crud.ttl.seconds()).collect();
        let uuids: Vec<Uuid> = batch.iter().map(|p| p.uuid).collect();
        self.statements.fetch_add(1, Ordering::Relaxed);
        let rows = on
            .query(
                &CREATE_ACTIVITIES_BATCH,
                &[&handles, &messages, &ttls, &uuids],
            )
            .await
            .map_err(|e| InsertFailure::of(e, true))?;
        by_position(&rows, batch.len()).map_err(InsertFailure::NotWritten)
    }

    /// Settles cruds whose statement may or may not have committed (see the module docs).
    async fn resolve(&self, batch: Vec<Pending>, cause: DbError) {
        let deadline = Instant::now() + self.resolve_within;
        let mut last = cause;
        loop {
            match tokio::time::timeout_at(deadline, self.written(&batch)).await {
                Ok(Ok(items)) => {
                    tracing::warn!(size = batch.len(), cause = %last,
                        "connection lost while creating; outcome resolved by uuid");
                    return answer_all(batch, items);
                }
                Ok(Err(InsertFailure::Rejected(e))) => {
                    // Rejected for its data: none of the batch is written; settle each alone.
                    tracing::warn!(
                        size = batch.len(),
                        sqlstate = e.sqlstate(),
                        "resent batch rejected by the database; writing its cruds one by one"
                    );
                    for pending in batch {
                        Box::pin(self.write_alone(pending)).await;
                    }
                    return;
                }
                Ok(Err(InsertFailure::NotWritten(e) | InsertFailure::Unknown(e))) => last = e,
                Err(_elapsed) => break,
            }
            if Instant::now() + RESOLVE_PAUSE >= deadline {
                break;
            }
            tokio::time::sleep(RESOLVE_PAUSE).await;
        }
        let unknown: Vec<String> = batch.iter().map(|p| p.uuid.to_string()).collect();
        tracing::warn!(uuids = ?unknown, cause = %last,
            "connection lost while creating and the database stayed out of reach; these cruds may or may not be written");
        let error = DbError::unavailable(format!(
            "the connection was lost while writing and the outcome could not be checked: {last}"
        ));
        answer_error(batch, &error);
    }

    /// Sends the cruds again (a no-op for those already written: same uuids) and reads every
    /// one back by uuid, on a fresh connection: pooled ones may be as dead as the one that broke
    /// and not known to be yet. `None` for a crud that is not there: its author is unknown.
    async fn written(&self, batch: &[Pending]) -> Result<Vec<Option<CrudRow>>, InsertFailure> {
        let client = self
            .pool
            .fresh_connection()
            .await
            .map_err(InsertFailure::NotWritten)?;
        self.insert_on(&client, batch).await?;
        let read_back = async {
            let uuids: Vec<Uuid> = batch.iter().map(|p| p.uuid).collect();
            let rows = self
                .pool
                .statements_on(&client)
                .query(&CARDS_BY_UUID, &[&uuids])
                .await?;
            by_position(&rows, batch.len())
        };
        read_back.await.map_err(InsertFailure::NotWritten)
    }
}

fn answer_all(batch: Vec<Pending>, items: Vec<Option<CrudRow>>) {
    for (pending, item) in batch.into_iter().zip(items) {
        pending.answer(Ok(item));
    }
}

/// One failure for every request of a batch; each request's own log line carries the cause.
fn answer_error(batch: Vec<Pending>, error: &DbError) {
    for pending in batch {
        pending.answer(Err(error.duplicate()));
    }
}

/// Rows carrying `ord` (1-based input position) into one entry per input.
fn by_position(
    rows: &[tokio_postgres::Row],
    inputs: usize,
) -> Result<Vec<Option<CrudRow>>, DbError> {
    let mut items: Vec<Option<CrudRow>> = vec![None; inputs];
    for row in rows {
        let ord: i64 = row.try_get("ord")?;
        let index = usize::try_from(ord - 1)
            .ok()
            .filter(|i| *i < inputs)
            .ok_or_else(|| DbError::Unexpected {
                sqlstate: None,
                message: format!("create answered position {ord} for {inputs} inputs"),
            })?;
        items[index] = Some(CrudRow::from_row(row)?);
    }
    Ok(items)
}
