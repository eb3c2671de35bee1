//! Credentials from a secret in the shape RDS and its rotation functions use (`username`,
//! `password`, optionally `host`, `port`, `dbname`), read through a [`SecretStore`].
//!
//! Rotation, and AWS's documented stale window: a rotation writes the new password into the
//! secret as `AWSPENDING`, sets it on the database, then moves `AWSCURRENT` to it (the old
//! version becomes `AWSPREVIOUS`). Between those steps the database and `AWSCURRENT` disagree —
//! in either order, depending on the rotation strategy and on who changed what by hand. So a
//! read takes all three stages, the credentials the server last accepted go first, and a
//! refusal reads the secret again (at most every [`MIN_REFRESH_INTERVAL`]); the connect loop
//! ([`crate::connect`]) keeps asking until its rotation window has passed. Connections already
//! open are not affected by a password change.

use std::fmt;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{CredentialError, CredentialProvider, Credentials, LoginTarget, ProviderFuture};

/// How long a read of the secret is trusted without a refusal.
pub const DEFAULT_SECRET_TTL: Duration = Duration::from_secs(5 * 60);
/// A refusal reads the secret again, but not more often than this (a burst of new connections
/// refused at once shares one read).
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_millis(250);

/// A version stage of a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Current,
    Pending,
    Previous,
}

impl Stage {
    /// Secrets Manager's label for the stage.
    pub fn label(self) -> &'static str {
        match self {
            Self::Current => "AWSCURRENT",
            Self::Pending => "AWSPENDING",
            Self::Previous => "AWSPREVIOUS",
        }
    }
}

/// Reads a secret's string by stage. Implemented by the AWS side with `GetSecretValue`.
pub trait SecretStore: Send + Sync + fmt::Debug {
    /// The secret's string at `stage`; `Ok(None)` when no version carries that stage (only
    /// `Pending` and `Previous` may be absent: a missing `Current` is an error naming the ARN).
    fn fetch(
        &self,
        stage: Stage,
    ) -> ProviderFuture<'_, Result<Option<SecretString>, CredentialError>>;

    /// The secret's ARN (or name), for messages.
    fn arn(&self) -> &str;
}

/// A secret's fields. `Debug` shows no password.
#[derive(Clone)]
pub struct DbSecret {
    pub credentials: Credentials,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub dbname: Option<String>,
}

impl fmt::Debug for DbSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbSecret")
            .field("credentials", &self.credentials)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .finish()
    }
}

#[derive(Deserialize)]
struct RawSecret {
    username: Option<String>,
    password: Option<String>,
    host: Option<String>,
    port: Option<serde_json::Value>,
    dbname: Option<String>,
}

impl DbSecret {
    /// Parses a secret's JSON. Errors say what is wrong, never what the secret holds.
    pub fn parse(arn: &str, text: &SecretString) -> Result<Self, CredentialError> {
        let malformed = |reason: &str| CredentialError::SecretMalformed {
            arn: arn.to_owned(),
            reason: reason.to_owned(),
        };
        // serde_json's messages can quote the input: only its category is kept.
        let raw: RawSecret = serde_json::from_str(text.expose_secret()).map_err(|e| {
            malformed(match e.classify() {
                serde_json::error::Category::Data => {
                    "a field has the wrong type (username, password, host and dbname are strings, port a number)"
                }
                _ => "it is not a JSON object (expected {\"username\": …, \"password\": …})",
            })
        })?;
        let username = raw
            .username
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| malformed("it has no `username`"))?;
        let password = raw
            .password
            .filter(|p| !p.is_empty())
            .ok_or_else(|| malformed("it has no `password`"))?;
        let port = match raw.port {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => Some(
                n.as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p > 0)
                    .ok_or_else(|| malformed("its `port` is not a port number"))?,
            ),
            // Some rotation templates write the port as a string.
            Some(serde_json::Value::String(s)) => Some(
                s.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| malformed("its `port` is not a port number"))?,
            ),
            Some(_) => return Err(malformed("its `port` is not a port number")),
        };
        Ok(Self {
            credentials: Credentials::new(username, password),
            host: raw.host.filter(|h| !h.trim().is_empty()),
            port,
            dbname: raw.dbname.filter(|d| !d.trim().is_empty()),
        })
    }
}

/// [`CredentialProvider`] over a [`SecretStore`]: cached for a TTL, read again on refusal.
#[derive(Debug)]
pub struct SecretCredentials<S> {
    store: S,
    ttl: Duration,
    /// Held across a read, so concurrent connections share one.
    state: tokio::sync::Mutex<Cached>,
    /// The credentials the server accepted last; tried first.
    accepted: std::sync::Mutex<Option<Credentials>>,
}

#[derive(Debug, Default)]
struct Cached {
    /// `AWSCURRENT` first, then `AWSPENDING`, then `AWSPREVIOUS`, without repeats.
    candidates: Vec<Credentials>,
    read_at: Option<Instant>,
}

impl<S: SecretStore> SecretCredentials<S> {
    pub fn new(store: S, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            state: tokio::sync::Mutex::new(Cached::default()),
            accepted: std::sync::Mutex::new(None),
        }
    }

    /// Reads the secret now (at start, so a wrong ARN or a malformed secret stops the command
    /// before it serves anything) and returns its `AWSCURRENT` fields.
    pub async fn load(&self) -> Result<DbSecret, CredentialError> {
        let mut state = self.state.lock().await;
        let (current, candidates) = self.read().await?;
        state.candidates = candidates;
        state.read_at = Some(Instant::now());
        Ok(current)
    }

    async fn read(&self) -> Result<(DbSecret, Vec<Credentials>), CredentialError> {
        let arn = self.store.arn();
        let current_text = self.store.fetch(Stage::Current).await?.ok_or_else(|| {
            CredentialError::SecretUnreadable {
                arn: arn.to_owned(),
                reason: "it has no AWSCURRENT version".into(),
            }
        })?;
        let current = DbSecret::parse(arn, &current_text)?;
        let mut candidates = vec![current.credentials.clone()];
        for stage in [Stage::Pending, Stage::Previous] {
            // The other stages only help during a rotation: a failure to read one is no reason
            // to refuse the current credentials.
            match self.store.fetch(stage).await {
                Ok(Some(text)) => match DbSecret::parse(arn, &text) {
                    Ok(other) => {
                        if !candidates.iter().any(|c| c.same_as(&other.credentials)) {
                            candidates.push(other.credentials);
                        }
                    }
                    Err(e) => {
                        tracing::debug!(stage = stage.label(), error = %e, "ignoring a secret version")
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(stage = stage.label(), error = %e, "cannot read a secret version")
                }
            }
        }
        Ok((current, candidates))
    }

    async fn candidates(&self, refused: bool) -> Result<Vec<Credentials>, CredentialError> {
        let mut state = self.state.lock().await;
        let age = state.read_at.map(|at| at.elapsed());
        let due = match age {
            None => true,
            Some(age) => age >= self.ttl || (refused && age >= MIN_REFRESH_INTERVAL),
        };
        if due {
            match self.read().await {
                Ok((_, candidates)) => {
                    state.candidates = candidates;
                    state.read_at = Some(Instant::now());
                }
                // What we have may still work (the store is down, the password is not changed):
                // keep it, and try the store again after another interval.
                Err(e) if !state.candidates.is_empty() => {
                    tracing::warn!(error = %e, "cannot read the database secret again; using the cached credentials");
                    state.read_at = Some(Instant::now());
                }
                Err(e) => return Err(e),
            }
        }
        let mut ordered = state.candidates.clone();
        drop(state);
        if let Some(accepted) = self.accepted.lock().ok().and_then(|a| a.clone()) {
            if let Some(at) = ordered.iter().position(|c| c.same_as(&accepted)) {
                let first = ordered.remove(at);
                ordered.insert(0, first);
            }
        }
        Ok(ordered)
    }
}

impl<S: SecretStore> CredentialProvider for SecretCredentials<S> {
    fn credentials<'a>(
        &'a self,
        _target: LoginTarget<'a>,
        refused: bool,
    ) -> ProviderFuture<'a, Result<Vec<Credentials>, CredentialError>> {
        Box::pin(self.candidates(refused))
    }

    fn accepted(&self, credentials: &Credentials) {
        if let Ok(mut accepted) = self.accepted.lock() {
            if !accepted.as_ref().is_some_and(|a| a.same_as(credentials)) {
                *accepted = Some(credentials.clone());
            }
        }
    }

    fn source(&self) -> String {
        format!("secret {}", self.store.arn())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cruddur-app-AbCdEf";

    fn parse(json: &str) -> Result<DbSecret, CredentialError> {
        DbSecret::parse(ARN, &SecretString::from(json.to_owned()))
    }

    #[test]
    fn an_rds_managed_secret_and_an_app_secret_both_parse() {
        let managed = parse(r#"{"username":"root","password":"hunter2!"}"#).unwrap();
        assert_eq!(managed.credentials.user, "root");
        assert_eq!(managed.credentials.password.expose_secret(), "hunter2!");
        assert_eq!(
            (managed.host, managed.port, managed.dbname),
            (None, None, None)
        );
        let app = parse(
            r#"{"engine":"postgres","host":"db.example.com","port":5432,"username":"cruddur_app","password":"pw","dbname":"cruddur"}"#,
        )
        .unwrap();
        assert_eq!(app.host.as_deref(), Some("db.example.com"));
        assert_eq!(app.port, Some(5432));
        assert_eq!(app.dbname.as_deref(), Some("cruddur"));
        assert_eq!(
            parse(r#"{"username":"u","password":"p","port":"6543"}"#)
                .unwrap()
                .port,
            Some(6543)
        );
    }

    #[test]
    fn a_malformed_secret_names_the_arn_and_what_is_missing_never_the_password() {
        let cases = [
            ("not json hunter2", "not a JSON object"),
            (r#"["hunter2"]"#, "wrong type"),
            (r#"{"password":"hunter2"}"#, "no `username`"),
            (r#"{"username":"app"}"#, "no `password`"),
            (r#"{"username":"app","password":""}"#, "no `password`"),
            (
                r#"{"username":"app","password":"hunter2","port":70000}"#,
                "`port`",
            ),
            (
                r#"{"username":"app","password":"hunter2","port":"x"}"#,
                "`port`",
            ),
            (r#"{"username":7,"password":"hunter2"}"#, "wrong type"),
        ];
        for (json, expected) in cases {
            let err = parse(json).unwrap_err().to_string();
            assert!(err.contains(ARN), "{json}: {err}");
            assert!(err.contains(expected), "{json}: {err}");
            assert!(!err.contains("hunter2"), "{json}: {err}");
            assert!(!err.contains('\n'), "{json}: {err}");
        }
    }
}
