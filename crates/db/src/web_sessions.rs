//! Sessions of people signed in on the page (migration V12). The caller holds the session id
//! (a random value in the browser's cookie); only its SHA-256 is passed here and stored.

use chrono::{DateTime, Utc};
use std::time::Duration;

use crate::error::DbError;
use crate::pool::{checkout, Pool};
use crate::statement::{
    DELETE_WEB_SESSION, END_WEB_SESSION_REFUSED, FIND_WEB_SESSION, INSERT_WEB_SESSION,
    RENEW_WEB_SESSION_TOKENS, SERVER_KEY, TOUCH_WEB_SESSION,
};
use crate::users::{user_short, UserShortRow};

/// The SHA-256 of a session id: what the table is keyed by.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionKey(pub [u8; 32]);

/// Never printed: it names a live session (not usable as a cookie, but still an identifier).
impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// The tokens a sign-in or a refresh gave, with when to renew the access token.
#[derive(Clone, Copy)]
pub struct Tokens<'a> {
    pub access_token: &'a str,
    /// How long the access token is valid from now.
    pub access_valid_for: Duration,
    /// How long from now it is renewed ahead of use.
    pub renew_after: Duration,
    /// A refresh token (at sign-in; after a refresh only when the pool rotates them).
    pub refresh_token: Option<&'a str>,
}

/// Tokens stay out of logs and panics.
impl std::fmt::Debug for Tokens<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("access_valid_for", &self.access_valid_for)
            .field("renew_after", &self.renew_after)
            .finish_non_exhaustive()
    }
}

/// How long a session lives: unused (`idle`) and at most (`max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub idle: Duration,
    pub max: Duration,
}

/// A live session.
#[derive(Clone)]
pub struct WebSession {
    pub user: UserShortRow,
    pub access_token: String,
    pub access_expires_at: DateTime<Utc>,
    pub refresh_after: DateTime<Utc>,
    pub refresh_token: Option<String>,
    pub idle_until: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The database's clock when the session was read (the times above are on it).
    pub now: DateTime<Utc>,
}

/// Tokens stay out of logs and panics.
impl std::fmt::Debug for WebSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSession")
            .field("user", &self.user.handle)
            .field("access_expires_at", &self.access_expires_at)
            .field("refresh_after", &self.refresh_after)
            .field("idle_until", &self.idle_until)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Opens a session for `user` (a new key each time: a sign-in never reuses an id).
pub async fn open(
    pool: &Pool,
    key: &SessionKey,
    user: uuid::Uuid,
    tokens: &Tokens<'_>,
    lifetimes: Lifetimes,
) -> Result<(), DbError> {
    let client = checkout(pool).await?;
    pool.statements_on(&client)
        .execute(
            &INSERT_WEB_SESSION,
            &[
                &key.0.as_slice(),
                &user,
                &tokens.access_token,
                &secs(tokens.access_valid_for),
                &secs(tokens.renew_after),
                &tokens.refresh_token,
                &secs(lifetimes.idle),
                &secs(lifetimes.max),
            ],
        )
        .await?;
    Ok(())
}

/// The live session of `key`; `None` when there is none (never was, ended, or deleted).
pub async fn find(pool: &Pool, key: &SessionKey) -> Result<Option<WebSession>, DbError> {
    let client = checkout(pool).await?;
    let row = pool
        .statements_on(&client)
        .query_opt(&FIND_WEB_SESSION, &[&key.0.as_slice()])
        .await?;
    row.map(|r| {
        Ok(WebSession {
            user: user_short(&r)?,
            access_token: r.try_get("access_token")?,
            access_expires_at: r.try_get("access_expires_at")?,
            refresh_after: r.try_get("refresh_after")?,
            refresh_token: r.try_get("refresh_token")?,
            idle_until: r.try_get("idle_until")?,
            expires_at: r.try_get("expires_at")?,
            now: r.try_get("now")?,
        })
    })
    .transpose()
}

/// Moves the idle end of a live session to `idle` from now; `false` when it has ended.
pub async fn touch(pool: &Pool, key: &SessionKey, idle: Duration) -> Result<bool, DbError> {
    let client = checkout(pool).await?;
    let touched = pool
        .statements_on(&client)
        .execute(&TOUCH_WEB_SESSION, &[&key.0.as_slice(), &secs(idle)])
        .await?;
    Ok(touched == 1)
}

/// Stores refreshed tokens; `false` when the session has ended meanwhile.
pub async fn renew(pool: &Pool, key: &SessionKey, tokens: &Tokens<'_>) -> Result<bool, DbError> {
    let client = checkout(pool).await?;
    let renewed = pool
        .statements_on(&client)
        .execute(
            &RENEW_WEB_SESSION_TOKENS,
            &[
                &key.0.as_slice(),
                &tokens.access_token,
                &secs(tokens.access_valid_for),
                &secs(tokens.renew_after),
                &tokens.refresh_token,
            ],
        )
        .await?;
    Ok(renewed == 1)
}

/// What deleting a session found.
pub enum Deleted {
    /// There was no such session.
    None,
    /// It is gone; its refresh token, if it had one, for revoking.
    Ended { refresh_token: Option<String> },
}

/// The refresh token stays out of logs and panics.
impl std::fmt::Debug for Deleted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Ended { refresh_token } => f
                .debug_struct("Ended")
                .field("had_refresh_token", &refresh_token.is_some())
                .finish(),
        }
    }
}

/// Ends the session of `key`.
pub async fn delete(pool: &Pool, key: &SessionKey) -> Result<Deleted, DbError> {
    let client = checkout(pool).await?;
    let row = pool
        .statements_on(&client)
        .query_opt(&DELETE_WEB_SESSION, &[&key.0.as_slice()])
        .await?;
    match row {
        None => Ok(Deleted::None),
        Some(row) => Ok(Deleted::Ended {
            refresh_token: row.try_get("refresh_token")?,
        }),
    }
}

/// Ends the session of `key` if it still holds `refresh_token` (the one the managed login
/// refused); `false` when a concurrent refresh replaced that token (the session lives on) or the
/// session is gone.
pub async fn end_if_refresh_token(
    pool: &Pool,
    key: &SessionKey,
    refresh_token: &str,
) -> Result<bool, DbError> {
    let client = checkout(pool).await?;
    let ended = pool
        .statements_on(&client)
        .execute(
            &END_WEB_SESSION_REFUSED,
            &[&key.0.as_slice(), &refresh_token],
        )
        .await?;
    Ok(ended == 1)
}

/// The shared key `name`, made from `candidate` if no server has made one yet.
pub async fn server_key(pool: &Pool, name: &str, candidate: &[u8]) -> Result<Vec<u8>, DbError> {
    let client = checkout(pool).await?;
    // Twice at most: a server racing another one to make the key sees it on its second look.
    for _ in 0..2 {
        let row = pool
            .statements_on(&client)
            .query_opt(&SERVER_KEY, &[&name, &candidate])
            .await?;
        if let Some(row) = row {
            return Ok(row.try_get("key")?);
        }
    }
    Err(DbError::Unavailable {
        reason: format!("the shared key {name} was neither made nor found"),
        sqlstate: None,
    })
}
