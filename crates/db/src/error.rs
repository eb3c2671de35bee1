//! The data layer's error type: what happened, in terms the API and the CLI can act on.
//! Messages never contain connection URLs, passwords or row values.

/// A checkout failure of the pool (`crate::pool`), before it becomes a [`DbError`].
type PoolError = deadpool::managed::PoolError<DbError>;
use tokio_postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot serve us now, and a later attempt may succeed: pool timeout, refused
    /// or broken connection, or a server answer in a transient class — too many connections or
    /// out of resources (53), shutdown, crash recovery or starting up (57P0x), connection
    /// failure (08), a read-only transaction after a failover (25006), serialization failure or
    /// deadlock (40). `sqlstate` is set when the server said which.
    #[error("database unavailable{}: {reason}", sqlstate.as_deref().map(|s| format!(" (SQLSTATE {s})")).unwrap_or_default())]
    Unavailable {
        reason: String,
        sqlstate: Option<String>,
    },
    /// A unique constraint rejected the row (SQLSTATE 23505).
    #[error("conflict with existing row (constraint {constraint})")]
    Conflict { constraint: String },
    /// A foreign key, NOT NULL or CHECK constraint rejected the row (SQLSTATE 23xxx).
    #[error("row violates constraint {constraint}")]
    Violation { constraint: String },
    /// The database rejected a value (SQLSTATE class 22, e.g. invalid characters).
    #[error("value rejected by the database (SQLSTATE {sqlstate})")]
    InvalidValue { sqlstate: String },
    /// A statement ran longer than `statement_timeout`.
    #[error("statement timed out (SQLSTATE 57014)")]
    Timeout,
    /// The server refused the login (wrong password, unknown role or database).
    #[error("login refused: {0}")]
    Auth(String),
    /// The credentials provider has nothing to log in with (a secret missing or malformed,
    /// the secret store unreachable, no IAM token).
    #[error("no database credentials: {0}")]
    Credentials(#[from] crate::credentials::CredentialError),
    #[error("TLS setup failed")]
    Tls(#[from] crate::tls::TlsError),
    /// Anything else: a server error the code does not expect, or an answer that does not have
    /// the shape the code expects (a defect, never "unavailable"). Holds the SQLSTATE and the
    /// server's one-line message only — never DETAIL or HINT, which can quote row values.
    #[error("unexpected database error{}: {message}", sqlstate.as_deref().map(|s| format!(" (SQLSTATE {s})")).unwrap_or_default())]
    Unexpected {
        sqlstate: Option<String>,
        message: String,
    },
    #[error("migration failed: {0}")]
    Migration(String),
}

impl DbError {
    /// The same error for another caller (one failure answered to every request of a batch).
    /// Variants that carry a driver error become `Unavailable` with its message.
    pub fn duplicate(&self) -> Self {
        match self {
            Self::Unavailable { reason, sqlstate } => Self::Unavailable {
                reason: reason.clone(),
                sqlstate: sqlstate.clone(),
            },
            Self::Conflict { constraint } => Self::Conflict {
                constraint: constraint.clone(),
            },
            Self::Violation { constraint } => Self::Violation {
                constraint: constraint.clone(),
            },
            Self::InvalidValue { sqlstate } => Self::InvalidValue {
                sqlstate: sqlstate.clone(),
            },
            Self::Timeout => Self::Timeout,
            Self::Auth(message) => Self::Auth(message.clone()),
            Self::Credentials(e) => Self::Credentials(e.clone()),
            Self::Migration(message) => Self::Migration(message.clone()),
            Self::Unexpected { sqlstate, message } => Self::Unexpected {
                sqlstate: sqlstate.clone(),
                message: message.clone(),
            },
            Self::Tls(_) => Self::unavailable(self.to_string()),
        }
    }

    /// Unavailable for a reason of our own (no SQLSTATE: the server did not say).
    pub fn unavailable(reason: impl Into<String>) -> Self {
        Self::Unavailable {
            reason: reason.into(),
            sqlstate: None,
        }
    }

    /// The SQLSTATE of a database-side error, for logs.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Self::Unexpected { sqlstate, .. } | Self::Unavailable { sqlstate, .. } => {
                sqlstate.as_deref()
            }
            Self::InvalidValue { sqlstate } => Some(sqlstate),
            _ => None,
        }
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        let Some(db) = e.as_db_error() else {
            return if is_connection_failure(&e) {
                Self::unavailable(connection_reason(&e))
            } else {
                // The server answered, but not in the shape the code expects (a column type or
                // a row type out of step with the code), or the settings are unusable.
                Self::Unexpected {
                    sqlstate: None,
                    message: domain::error_chain(&e),
                }
            };
        };
        let code = db.code();
        let constraint = || db.constraint().unwrap_or("unnamed").to_owned();
        if *code == SqlState::UNIQUE_VIOLATION {
            Self::Conflict {
                constraint: constraint(),
            }
        } else if code.code().starts_with("23") {
            Self::Violation {
                constraint: constraint(),
            }
        } else if code.code().starts_with("22") {
            Self::InvalidValue {
                sqlstate: code.code().to_owned(),
            }
        } else if *code == SqlState::QUERY_CANCELED {
            Self::Timeout
        } else if code.code().starts_with("28") || *code == SqlState::INVALID_CATALOG_NAME {
            Self::Auth(db.message().to_owned())
        } else if is_transient(code.code()) {
            Self::Unavailable {
                reason: db.message().to_owned(),
                sqlstate: Some(code.code().to_owned()),
            }
        } else {
            Self::Unexpected {
                sqlstate: Some(code.code().to_owned()),
                message: db.message().to_owned(),
            }
        }
    }
}

/// SQLSTATEs after which the same request may succeed later; see [`DbError::Unavailable`].
pub fn is_transient(sqlstate: &str) -> bool {
    sqlstate == SqlState::READ_ONLY_SQL_TRANSACTION.code()
        || ["53", "57P", "08", "40"]
            .iter()
            .any(|prefix| sqlstate.starts_with(prefix))
}

/// Whether the database rejected the *data* of a statement (data exception, class 22, or
/// integrity constraint violation, class 23): the same statement with other values may succeed.
pub fn is_data_rejection(sqlstate: &str) -> bool {
    sqlstate.starts_with("22") || sqlstate.starts_with("23")
}

/// Whether a driver error without a server answer means the connection failed or broke (an I/O
/// error somewhere in its causes, or a closed connection), rather than a decoding problem.
fn is_connection_failure(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause.is::<std::io::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A connection failure with its causes ("Connection refused", "timed out"); tokio-postgres
/// errors never contain the URL or password.
fn connection_reason(e: &tokio_postgres::Error) -> String {
    domain::error_chain(e)
}

impl From<PoolError> for DbError {
    fn from(e: PoolError) -> Self {
        match e {
            PoolError::Backend(e) => e,
            PoolError::PostCreateHook(deadpool::managed::HookError::Backend(e)) => e,
            PoolError::Timeout(kind) => {
                Self::unavailable(format!("timed out waiting for a connection ({kind:?})"))
            }
            PoolError::Closed => Self::unavailable("the pool is closed"),
            other => Self::unavailable(other.to_string()),
        }
    }
}
