//! Every statement the service runs through a pool, with its parameter types, and the two ways
//! of sending one:
//! - [`Pooler::None`] (a connection of our own for its whole life): each connection prepares a
//!   statement once (`prepare_typed_cached`) and reuses its plan;
//! - [`Pooler::Transaction`] (PgBouncer in transaction mode, RDS Proxy): consecutive statements
//!   may reach different server sessions, so a statement prepared on one does not exist on the
//!   next. Each is sent as the *unnamed* statement, parsed, bound and run in one round trip
//!   (`query_typed`), which leaves nothing behind in the server session. PgBouncer from 1.21 can
//!   track named statements (`max_prepared_statements`); Debian 12 ships 1.18, and RDS Proxy
//!   pins a session that prepares one, so unnamed statements are the choice that works with
//!   every pooler. An unnamed statement is planned on every execution, so the page reads (the
//!   feed, the status page, the user page) are sent as calls of PL/pgSQL functions holding the
//!   same statements (migration V11, [`Sql::pooled`]): the call is trivial to plan, and the
//!   query inside keeps its plan for the server session's life, whichever client calls it.
//!
//! The declared types are the ones PostgreSQL infers for each file (a test compares them).

use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Error, Row};

/// What sits between the service and PostgreSQL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pooler {
    /// Nothing, or a pooler in session mode: a connection is one server session.
    #[default]
    None,
    /// A pooler that hands a server session out per transaction (PgBouncer
    /// `pool_mode=transaction`, RDS Proxy).
    Transaction,
}

impl std::str::FromStr for Pooler {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "none" | "session" => Ok(Self::None),
            "transaction" => Ok(Self::Transaction),
            other => Err(format!(
                "unknown pooler `{other}` (use none, session or transaction)"
            )),
        }
    }
}

/// One statement of `sql/` and its parameters' types.
#[derive(Debug)]
pub struct Sql {
    pub text: &'static str,
    pub params: &'static [Type],
    /// What a server behind a transaction pooler sends instead: a call of the PL/pgSQL function
    /// holding `text` (migration V11), whose plan the server session keeps, where `text` sent
    /// unnamed would be planned on every execution. Same parameters, same result columns.
    pub pooled: Option<&'static str>,
}

impl Sql {
    /// The text sent behind `pooler`.
    pub fn text_for(&self, pooler: Pooler) -> &'static str {
        match (pooler, self.pooled) {
            (Pooler::Transaction, Some(call)) => call,
            _ => self.text,
        }
    }
}

macro_rules! sql {
    ($path:literal, [$($ty:ident),*]) => {
        Sql {
            text: include_str!(concat!("../sql/", $path)),
            params: &[$(Type::$ty),*],
            pooled: None,
        }
    };
    ($path:literal, [$($ty:ident),*], pooled: $call:literal) => {
        Sql {
            text: include_str!(concat!("../sql/", $path)),
            params: &[$(Type::$ty),*],
            pooled: Some($call),
        }
    };
}

pub const CARDS_BY_UUID: Sql = sql!("activities/cards_by_uuid.sql", [UUID_ARRAY]);
pub const CREATE_ACTIVITIES_BATCH: Sql = sql!(
    "activities/create_activities_batch.sql",
    [TEXT_ARRAY, TEXT_ARRAY, INT8_ARRAY, UUID_ARRAY]
);
pub const CREATE_ACTIVITY: Sql = sql!("activities/create_activity.sql", [TEXT, TEXT, INT8, UUID]);
pub const CREATE_REPLY: Sql = sql!("activities/create_reply.sql", [UUID, TEXT, TEXT]);
pub const LIST_HOME_FEED: Sql = sql!(
    "activities/list_home_feed.sql",
    [INT8, INT8],
    pooled: "SELECT * FROM list_home_feed($1, $2)"
);
pub const LIST_HOME_FEED_BEFORE: Sql = sql!(
    "activities/list_home_feed_before.sql",
    [INT8, UUID, INT8],
    pooled: "SELECT * FROM list_home_feed_before($1, $2, $3)"
);
pub const PURGE_EXPIRED: Sql = sql!("activities/purge_expired.sql", [INT8]);
pub const SHOW_ACTIVITY: Sql = sql!(
    "activities/show_activity.sql",
    [TEXT, UUID, INT8],
    pooled: "SELECT * FROM show_activity($1, $2, $3)"
);
pub const SHOW_ACTIVITY_AFTER: Sql = sql!(
    "activities/show_activity_after.sql",
    [TEXT, UUID, INT8, UUID],
    pooled: "SELECT * FROM show_activity_after($1, $2, $3, $4)"
);
pub const FIND_USER_BY_COGNITO_ID: Sql = sql!("users/find_user_by_cognito_id.sql", [TEXT]);
pub const FIND_USER_SHORT: Sql = sql!("users/find_user_short.sql", [TEXT]);
pub const HANDLE_TAKEN: Sql = sql!("users/handle_taken.sql", [TEXT]);
pub const INSERT_FROM_COGNITO: Sql =
    sql!("users/insert_from_cognito.sql", [TEXT, TEXT, TEXT, TEXT]);
pub const LINK_COGNITO_USER: Sql = sql!("users/link_cognito_user.sql", [UUID, TEXT]);
pub const LIST_AUTHORS: Sql = sql!("users/list_authors.sql", [INT8]);
pub const LIST_PLACEHOLDER_USERS: Sql = sql!("users/list_placeholder_users.sql", []);
pub const SHOW_USER_PAGE: Sql = sql!(
    "users/show_user_page.sql",
    [TEXT, INT8, INT8],
    pooled: "SELECT * FROM show_user_page($1, $2, $3)"
);
pub const UPDATE_PROFILE: Sql = sql!("users/update_profile.sql", [TEXT, TEXT, TEXT]);
pub const PING: Sql = sql!("health/ping.sql", []);
pub const CREATE_ACTIVITY_ONCE: Sql = sql!(
    "idempotency/create_activity_once.sql",
    [TEXT, TEXT, INT8, UUID, TEXT, BYTEA]
);
pub const CREATE_REPLY_ONCE: Sql = sql!(
    "idempotency/create_reply_once.sql",
    [UUID, TEXT, TEXT, UUID, TEXT, BYTEA]
);
pub const FIND_KEYED: Sql = sql!("idempotency/find_keyed.sql", [TEXT, TEXT]);
pub const PURGE_KEYS: Sql = sql!("idempotency/purge_keys.sql", [INT8]);
pub const INSERT_WEB_SESSION: Sql = sql!(
    "web_sessions/insert_web_session.sql",
    [BYTEA, UUID, TEXT, INT8, INT8, TEXT, INT8, INT8]
);
pub const FIND_WEB_SESSION: Sql = sql!("web_sessions/find_web_session.sql", [BYTEA]);
pub const TOUCH_WEB_SESSION: Sql = sql!("web_sessions/touch_web_session.sql", [BYTEA, INT8]);
pub const RENEW_WEB_SESSION_TOKENS: Sql = sql!(
    "web_sessions/renew_web_session_tokens.sql",
    [BYTEA, TEXT, INT8, INT8, TEXT]
);
pub const DELETE_WEB_SESSION: Sql = sql!("web_sessions/delete_web_session.sql", [BYTEA]);
pub const END_WEB_SESSION_REFUSED: Sql =
    sql!("web_sessions/end_web_session_refused.sql", [BYTEA, TEXT]);
pub const PURGE_WEB_SESSIONS: Sql = sql!("web_sessions/purge_web_sessions.sql", [INT8]);
pub const SERVER_KEY: Sql = sql!("web_sessions/server_key.sql", [TEXT, BYTEA]);

/// Every statement above: what a pooled connection learns the result types of when it opens.
pub const ALL: &[&Sql] = &[
    &CARDS_BY_UUID,
    &CREATE_ACTIVITIES_BATCH,
    &CREATE_ACTIVITY,
    &CREATE_REPLY,
    &LIST_HOME_FEED,
    &LIST_HOME_FEED_BEFORE,
    &PURGE_EXPIRED,
    &SHOW_ACTIVITY,
    &SHOW_ACTIVITY_AFTER,
    &FIND_USER_BY_COGNITO_ID,
    &FIND_USER_SHORT,
    &HANDLE_TAKEN,
    &INSERT_FROM_COGNITO,
    &LINK_COGNITO_USER,
    &LIST_AUTHORS,
    &LIST_PLACEHOLDER_USERS,
    &SHOW_USER_PAGE,
    &UPDATE_PROFILE,
    &PING,
    &CREATE_ACTIVITY_ONCE,
    &CREATE_REPLY_ONCE,
    &FIND_KEYED,
    &PURGE_KEYS,
    &INSERT_WEB_SESSION,
    &FIND_WEB_SESSION,
    &TOUCH_WEB_SESSION,
    &RENEW_WEB_SESSION_TOKENS,
    &DELETE_WEB_SESSION,
    &END_WEB_SESSION_REFUSED,
    &PURGE_WEB_SESSIONS,
    &SERVER_KEY,
];

type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Sends [`Sql`] statements on one connection the way its [`Pooler`] allows.
pub struct Statements<'a> {
    client: &'a deadpool_postgres::ClientWrapper,
    pooler: Pooler,
}

impl std::fmt::Debug for Statements<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statements")
            .field("pooler", &self.pooler)
            .finish_non_exhaustive()
    }
}

impl<'a> Statements<'a> {
    pub fn new(client: &'a deadpool_postgres::ClientWrapper, pooler: Pooler) -> Self {
        Self { client, pooler }
    }

    pub async fn query(&self, sql: &Sql, params: &Params<'_>) -> Result<Vec<Row>, Error> {
        match self.pooler {
            Pooler::None => {
                let statement = self.prepared(sql).await?;
                self.client.query(&statement, params).await
            }
            Pooler::Transaction => {
                self.client
                    .query_typed(sql.text_for(self.pooler), &typed(sql, params))
                    .await
            }
        }
    }

    pub async fn query_opt(&self, sql: &Sql, params: &Params<'_>) -> Result<Option<Row>, Error> {
        match self.pooler {
            Pooler::None => {
                let statement = self.prepared(sql).await?;
                self.client.query_opt(&statement, params).await
            }
            Pooler::Transaction => {
                self.client
                    .query_typed_opt(sql.text_for(self.pooler), &typed(sql, params))
                    .await
            }
        }
    }

    pub async fn query_one(&self, sql: &Sql, params: &Params<'_>) -> Result<Row, Error> {
        match self.pooler {
            Pooler::None => {
                let statement = self.prepared(sql).await?;
                self.client.query_one(&statement, params).await
            }
            Pooler::Transaction => {
                self.client
                    .query_typed_one(sql.text_for(self.pooler), &typed(sql, params))
                    .await
            }
        }
    }

    pub async fn execute(&self, sql: &Sql, params: &Params<'_>) -> Result<u64, Error> {
        match self.pooler {
            Pooler::None => {
                let statement = self.prepared(sql).await?;
                self.client.execute(&statement, params).await
            }
            Pooler::Transaction => {
                self.client
                    .execute_typed(sql.text_for(self.pooler), &typed(sql, params))
                    .await
            }
        }
    }

    /// Prepares `sql` on this connection now (a no-op behind a transaction pooler), so a
    /// caller can tell a failure to prepare (nothing was sent to run) from a failure to run.
    pub async fn ready(&self, sql: &Sql) -> Result<(), Error> {
        match self.pooler {
            Pooler::None => self.prepared(sql).await.map(drop),
            Pooler::Transaction => Ok(()),
        }
    }

    async fn prepared(&self, sql: &Sql) -> Result<tokio_postgres::Statement, Error> {
        self.client.prepare_typed_cached(sql.text, sql.params).await
    }
}

fn typed<'p>(sql: &Sql, params: &Params<'p>) -> Vec<(&'p (dyn ToSql + Sync), Type)> {
    debug_assert_eq!(params.len(), sql.params.len(), "{}", sql.text);
    params
        .iter()
        .zip(sql.params)
        .map(|(value, ty)| (*value, ty.clone()))
        .collect()
}

/// Makes a fresh connection ready for [`Pooler::Transaction`]: the result types of every
/// statement (the `live_activities` row and its arrays are not built in) are looked up and
/// kept by the client now, inside one transaction, so no later statement needs the driver's
/// named type-lookup statements. Those, and anything else prepared here, are deallocated
/// before the transaction ends: the server session goes back to the pooler as it came.
pub async fn learn_types(client: &mut deadpool_postgres::ClientWrapper) -> Result<(), Error> {
    let transaction = client.transaction().await?;
    for sql in ALL {
        // Dropped at once: its Close goes out inside this transaction too.
        transaction
            .prepare_typed(sql.text_for(Pooler::Transaction), sql.params)
            .await?;
    }
    transaction.batch_execute("DEALLOCATE ALL").await?;
    transaction.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_reads_are_function_calls_only_behind_a_transaction_pooler() {
        assert_eq!(
            LIST_HOME_FEED.text_for(Pooler::Transaction),
            "SELECT * FROM list_home_feed($1, $2)"
        );
        assert_eq!(LIST_HOME_FEED.text_for(Pooler::None), LIST_HOME_FEED.text);
        // A write has no function: it is sent as it is in both modes.
        assert_eq!(
            CREATE_ACTIVITY.text_for(Pooler::Transaction),
            CREATE_ACTIVITY.text
        );
    }
}
