//! Creates and replies made at most once per idempotency key (migration V9). The key is claimed
//! and the crud written by one statement, so a write and its key commit together or not at all:
//! a retry after an answer lost past the commit finds the key and answers what it made, and a
//! retry of a write that never committed writes it. Two attempts with the same key at once are
//! serialised by the key's primary key (the second waits for the first's transaction, then
//! finds its key). Keyed writes skip the create queue: one statement each, no group commit.

use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::activity::CrudRow;
use crate::error::DbError;
use crate::pool::{checkout, Pool};
use crate::statement::{Sql, CREATE_ACTIVITY_ONCE, CREATE_REPLY_ONCE, FIND_KEYED};
use domain::{IdempotencyKey, NewCrud, NewReply};

/// What a keyed write did.
#[derive(Debug)]
pub enum KeyedOutcome {
    /// Written now.
    Written(CrudRow),
    /// The key was used for this same request within 24 hours: what that made.
    Replayed(CrudRow),
    /// The key was used for another request within 24 hours: nothing written.
    KeyReused,
    UnknownAuthor,
    /// (Replies) no unexpired crud to reply to.
    UnknownParent,
    /// The key was used for this same request within 24 hours, but what it made has expired
    /// and been purged since: nothing written again.
    Gone,
}

/// Attempts when a used key's write cannot be found (it was purged between the two
/// statements): each starts over, and the next claims the key anew.
const ATTEMPTS: usize = 3;

/// The fingerprint stored with a key: SHA-256 over the request's fields, each length-prefixed
/// so no two requests share an encoding.
fn fingerprint(fields: &[&[u8]]) -> Vec<u8> {
    let mut hash = Sha256::new();
    for field in fields {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field);
    }
    hash.finalize().to_vec()
}

fn crud_fingerprint(crud: &NewCrud) -> Vec<u8> {
    fingerprint(&[
        b"crud",
        crud.author.as_str().to_lowercase().as_bytes(),
        &crud.ttl.seconds().to_be_bytes(),
        crud.message.as_str().as_bytes(),
    ])
}

fn reply_fingerprint(parent: Uuid, reply: &NewReply) -> Vec<u8> {
    fingerprint(&[
        b"reply",
        parent.as_bytes(),
        reply.author.as_str().to_lowercase().as_bytes(),
        reply.message.as_str().as_bytes(),
    ])
}

/// Creates `crud` unless its author used `key` in the last 24 hours.
pub async fn create_once(
    pool: &Pool,
    crud: &NewCrud,
    key: &IdempotencyKey,
) -> Result<KeyedOutcome, DbError> {
    let request = crud_fingerprint(crud);
    let write = Keyed {
        sql: &CREATE_ACTIVITY_ONCE,
        author: crud.author.as_str(),
        key,
        request: &request,
        has_parent: false,
    };
    write
        .run(
            pool,
            &[
                &crud.author.as_str(),
                &crud.message.as_str(),
                &crud.ttl.seconds(),
                &Uuid::new_v4(),
                &key.as_str(),
                &request,
            ],
        )
        .await
}

/// Replies to `parent` unless the author used `key` in the last 24 hours.
pub async fn reply_once(
    pool: &Pool,
    parent: Uuid,
    reply: &NewReply,
    key: &IdempotencyKey,
) -> Result<KeyedOutcome, DbError> {
    let request = reply_fingerprint(parent, reply);
    let write = Keyed {
        sql: &CREATE_REPLY_ONCE,
        author: reply.author.as_str(),
        key,
        request: &request,
        has_parent: true,
    };
    write
        .run(
            pool,
            &[
                &parent,
                &reply.author.as_str(),
                &reply.message.as_str(),
                &Uuid::new_v4(),
                &key.as_str(),
                &request,
            ],
        )
        .await
}

/// One keyed write: its statement and what a replay is recognised by.
struct Keyed<'a> {
    sql: &'a Sql,
    author: &'a str,
    key: &'a IdempotencyKey,
    request: &'a [u8],
    /// A reply: its statement also says whether the parent was found.
    has_parent: bool,
}

impl Keyed<'_> {
    /// Sends the statement with `params` (the same uuid each attempt: an attempt that wrote
    /// nothing left it unused) until it writes or finds what the key made.
    async fn run(
        &self,
        pool: &Pool,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<KeyedOutcome, DbError> {
        let client = checkout(pool).await?;
        let statements = pool.statements_on(&client);
        for _ in 0..ATTEMPTS {
            let row = statements.query_one(self.sql, params).await?;
            if !row.try_get::<_, bool>("author_found")? {
                return Ok(KeyedOutcome::UnknownAuthor);
            }
            if let Some(written) = CrudRow::from_optional_row(&row)? {
                return Ok(KeyedOutcome::Written(written));
            }
            // A replay first: a reply's parent may have expired since the first attempt.
            if let Some(used) = find(pool, &client, self.author, self.key, self.request).await? {
                return Ok(used);
            }
            if self.has_parent && !row.try_get::<_, bool>("parent_found")? {
                return Ok(KeyedOutcome::UnknownParent);
            }
        }
        Err(changed_hands())
    }
}

/// What `handle` made under `key`: a replay when `request` is the one the key was used for.
async fn find(
    pool: &Pool,
    client: &crate::pool::PooledClient,
    handle: &str,
    key: &IdempotencyKey,
    request: &[u8],
) -> Result<Option<KeyedOutcome>, DbError> {
    let rows: Vec<Row> = pool
        .statements_on(client)
        .query(&FIND_KEYED, &[&handle, &key.as_str()])
        .await?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let stored: Vec<u8> = row.try_get("request")?;
    if stored != request {
        return Ok(Some(KeyedOutcome::KeyReused));
    }
    Ok(Some(match CrudRow::from_optional_row(row)? {
        Some(made) => KeyedOutcome::Replayed(made),
        None => KeyedOutcome::Gone,
    }))
}

fn changed_hands() -> DbError {
    DbError::Unavailable {
        reason: "the idempotency key's write was removed while it was read; try again".into(),
        sqlstate: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_that_differ_in_any_field_differ_in_fingerprint() {
        let crud = |author: &str, message: &str, ttl: &str| {
            NewCrud::parse(domain::CrudFields {
                author: Some(author),
                message: Some(message),
                ttl: Some(ttl),
            })
            .unwrap()
        };
        let base = crud_fingerprint(&crud("ada", "hello", "1-day"));
        assert_eq!(base, crud_fingerprint(&crud("ada", "hello", "1-day")));
        assert_eq!(base.len(), 32);
        for other in [
            crud("bob", "hello", "1-day"),
            crud("ada", "hello!", "1-day"),
            crud("ada", "hello", "7-days"),
            // Field boundaries count: "ad"+"ahello" is not "ada"+"hello".
            crud("ad", "ahello", "1-day"),
        ] {
            assert_ne!(crud_fingerprint(&other), base, "{other:?}");
        }
        let reply = NewReply::parse(domain::ReplyFields {
            author: Some("ada"),
            message: Some("hello"),
        })
        .unwrap();
        assert_ne!(reply_fingerprint(Uuid::nil(), &reply), base);
        assert_ne!(
            reply_fingerprint(Uuid::nil(), &reply),
            reply_fingerprint(Uuid::max(), &reply)
        );
    }
}
