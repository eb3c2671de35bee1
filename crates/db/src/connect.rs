//! Opening one connection: every connection of the service (pooled, admin, the listener, a
//! standby's watcher) is opened here, so each gets its credentials from the same place.
//!
//! With a [`CredentialProvider`], a refused login (SQLSTATE 28P01, or 28000 for an IAM token)
//! asks the provider again and tries what it gives, until [`ROTATION_WINDOW`] has passed: a
//! password rotation changes the database and the secret one after the other, and no
//! connection should fail in between.

use std::time::{Duration, Instant};

use tokio_postgres::error::SqlState;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::ConnectSettings;
use crate::credentials::{CredentialProvider, Credentials, LoginTarget};
use crate::error::DbError;

/// The stream of a connection, TLS or not.
pub type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;
/// The half of a connection that must be polled for it to make progress.
pub type Connection = tokio_postgres::Connection<Socket, Stream>;

/// How long refused logins are retried with what the provider gives again: long enough for a
/// rotation's two steps (database, then secret, or the other way round), short enough that a
/// wrong secret is reported within seconds.
pub const ROTATION_WINDOW: Duration = Duration::from_secs(5);
/// The pause between rounds of refused logins.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// How long one connection attempt may take (the TCP timeout does not cover the startup
/// exchange; allow a little for it).
pub fn attempt_bound(settings: &ConnectSettings) -> Duration {
    let tcp = settings
        .pg
        .get_connect_timeout()
        .copied()
        .unwrap_or(Duration::from_secs(
            crate::config::DEFAULT_CONNECT_TIMEOUT_SECS,
        ));
    tcp + Duration::from_secs(1)
}

/// How long [`open`] may take in all: one attempt, or a rotation window of them.
pub fn open_bound(settings: &ConnectSettings) -> Duration {
    match settings.credentials {
        None => attempt_bound(settings),
        Some(_) => ROTATION_WINDOW + 2 * attempt_bound(settings),
    }
}

/// Opens a connection. The caller polls (usually spawns) the returned [`Connection`].
pub async fn open(
    settings: &ConnectSettings,
    tls: &MakeRustlsConnect,
) -> Result<(Client, Connection), DbError> {
    match &settings.credentials {
        None => attempt(&settings.pg, settings, tls)
            .await
            .map_err(Failure::into_error),
        Some(provider) => with_provider(provider.as_ref(), settings, tls).await,
    }
}

async fn with_provider(
    provider: &dyn CredentialProvider,
    settings: &ConnectSettings,
    tls: &MakeRustlsConnect,
) -> Result<(Client, Connection), DbError> {
    let (host, port) = settings.login_host();
    let target = LoginTarget {
        host: &host,
        port,
        user: settings.pg.get_user(),
    };
    let started = Instant::now();
    let mut refused = false;
    let mut rounds = 0u32;
    loop {
        rounds += 1;
        let candidates = provider.credentials(target, refused).await?;
        for credentials in &candidates {
            match attempt(&with_login(settings, credentials), settings, tls).await {
                Ok(connected) => {
                    provider.accepted(credentials);
                    if rounds > 1 {
                        tracing::info!(
                            source = %provider.source(),
                            waited_ms = started.elapsed().as_millis() as u64,
                            "a login refused during a credential change succeeded"
                        );
                    }
                    return Ok(connected);
                }
                Err(Failure::Refused(_)) => {}
                Err(e) => return Err(e.into_error()),
            }
        }
        if started.elapsed() >= ROTATION_WINDOW {
            return Err(DbError::Auth(format!(
                "the server refused every password of {} for {} s (user {})",
                provider.source(),
                ROTATION_WINDOW.as_secs(),
                candidates.first().map_or("unknown", |c| c.user.as_str())
            )));
        }
        refused = true;
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

fn with_login(settings: &ConnectSettings, credentials: &Credentials) -> tokio_postgres::Config {
    use secrecy::ExposeSecret;
    let mut pg = settings.pg.clone();
    pg.user(&credentials.user);
    pg.password(credentials.password.expose_secret());
    pg
}

/// Why one attempt failed: a refused login is worth another try with other credentials.
enum Failure {
    Refused(tokio_postgres::Error),
    Other(DbError),
}

impl Failure {
    fn into_error(self) -> DbError {
        match self {
            Self::Refused(e) => DbError::from(e),
            Self::Other(e) => e,
        }
    }
}

async fn attempt(
    pg: &tokio_postgres::Config,
    settings: &ConnectSettings,
    tls: &MakeRustlsConnect,
) -> Result<(Client, Connection), Failure> {
    let bound = attempt_bound(settings);
    let outcome = tokio::time::timeout(bound, pg.connect(tls.clone()))
        .await
        .map_err(|_| {
            Failure::Other(DbError::unavailable(format!(
                "no answer from the server within {} s",
                bound.as_secs()
            )))
        })?;
    outcome.map_err(|e| {
        let refused = e.code() == Some(&SqlState::INVALID_PASSWORD)
            || e.code() == Some(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION);
        if refused {
            Failure::Refused(e)
        } else {
            Failure::Other(DbError::from(e))
        }
    })
}
