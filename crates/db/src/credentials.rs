//! Where a new connection's user and password come from, chosen by `DB_AUTH`:
//! - `password`: the connection URL's (or `PGPASSWORD`), fixed for the life of the process;
//! - `secret`: a Secrets Manager secret, cached and read again after a TTL or when the server
//!   refuses the password (see [`secret`]);
//! - `iam`: an RDS IAM authentication token, minted for the host it logs in to.
//!
//! The data layer knows only [`CredentialProvider`]; the AWS side (`crates/aws`) implements it,
//! so the lean build links no AWS SDK. What a provider hands out is tried in order by
//! [`crate::connect`], which asks again after a refusal until a rotation's window has passed.

pub mod secret;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use secrecy::SecretString;

/// A future a provider returns (the trait is used as `dyn`, so no `async fn`).
pub type ProviderFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How connections authenticate (`DB_AUTH`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DbAuth {
    /// The password in the connection URL or `PGPASSWORD`.
    #[default]
    Password,
    /// A Secrets Manager secret (`DB_SECRET_ARN`).
    Secret,
    /// RDS IAM authentication tokens.
    Iam,
}

impl DbAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Secret => "secret",
            Self::Iam => "iam",
        }
    }
}

impl FromStr for DbAuth {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim() {
            "password" => Ok(Self::Password),
            "secret" => Ok(Self::Secret),
            "iam" => Ok(Self::Iam),
            other => Err(format!(
                "DB_AUTH `{other}` is not one of password, secret, iam"
            )),
        }
    }
}

impl fmt::Display for DbAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user name and its password (or token). `Debug` never shows the password.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: SecretString,
}

impl Credentials {
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            password: SecretString::from(password.into()),
        }
    }

    /// The same user and password (compared without printing either).
    pub fn same_as(&self, other: &Self) -> bool {
        use secrecy::ExposeSecret;
        self.user == other.user && self.password.expose_secret() == other.password.expose_secret()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, ****)", self.user)
    }
}

/// Where a connection logs in: an IAM token is signed for one host and port and user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginTarget<'a> {
    pub host: &'a str,
    pub port: u16,
    /// The URL's user, if it names one.
    pub user: Option<&'a str>,
}

/// Why a provider has no credentials to give. Messages name the source (an ARN, a host),
/// never a password or a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialError {
    /// The secret does not exist, or we may not read it.
    #[error("secret {arn}: {reason}")]
    SecretUnreadable { arn: String, reason: String },
    /// The secret exists but does not hold a user and a password in the shape RDS uses.
    #[error("secret {arn} is not an RDS credentials secret: {reason}")]
    SecretMalformed { arn: String, reason: String },
    /// The secret manager (or the STS/credentials chain behind it) did not answer.
    #[error("cannot reach the secret store for {arn}: {reason}")]
    SecretUnreachable { arn: String, reason: String },
    /// No IAM token could be made.
    #[error("cannot make an IAM authentication token for {user}@{host}:{port}: {reason}")]
    Token {
        user: String,
        host: String,
        port: u16,
        reason: String,
    },
    /// The configuration cannot work (e.g. IAM without TLS verification).
    #[error("{0}")]
    Invalid(String),
}

/// Hands out credentials for new connections. Implementations cache what they fetch: it is
/// asked once per connection opened.
pub trait CredentialProvider: Send + Sync + fmt::Debug {
    /// Credentials to try for a new connection to `target`, most likely first. `refused` says
    /// the server refused everything handed out last time for this connection: read the
    /// source again (a rotation may have happened) rather than hand out the cache.
    fn credentials<'a>(
        &'a self,
        target: LoginTarget<'a>,
        refused: bool,
    ) -> ProviderFuture<'a, Result<Vec<Credentials>, CredentialError>>;

    /// The server accepted `credentials`: try them first from now on.
    fn accepted(&self, credentials: &Credentials) {
        let _ = credentials;
    }

    /// What the credentials come from, for messages ("secret arn:…", "IAM tokens").
    fn source(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_auth_parses_its_three_words_and_names_them_when_wrong() {
        assert_eq!("password".parse(), Ok(DbAuth::Password));
        assert_eq!(" secret\n".parse(), Ok(DbAuth::Secret));
        assert_eq!("iam".parse(), Ok(DbAuth::Iam));
        let err = "kerberos".parse::<DbAuth>().unwrap_err();
        assert!(
            err.contains("kerberos") && err.contains("password, secret, iam"),
            "{err}"
        );
        assert_eq!(DbAuth::default(), DbAuth::Password);
    }

    #[test]
    fn credentials_never_show_their_password() {
        let c = Credentials::new("app", "hunter2");
        assert_eq!(format!("{c:?}"), "Credentials(app, ****)");
        assert!(c.same_as(&Credentials::new("app", "hunter2")));
        assert!(!c.same_as(&Credentials::new("app", "hunter3")));
        assert!(!c.same_as(&Credentials::new("app2", "hunter2")));
    }
}
