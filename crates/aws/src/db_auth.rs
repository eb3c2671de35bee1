//! `DB_AUTH=secret|iam` turned into a [`CredentialProvider`] for the data layer, checked at
//! start: a wrong ARN, a malformed secret or missing AWS credentials stop the command with one
//! line before it serves or changes anything.

use std::sync::Arc;
use std::time::Duration;

use db::credentials::secret::{DbSecret, SecretCredentials};
use db::credentials::{CredentialError, CredentialProvider, DbAuth};

use crate::iam_token::{region_of_endpoint, IamTokens};
use crate::secret_store::SecretsManagerStore;
use crate::AwsError;

/// The `DB_AUTH` settings.
#[derive(Debug, Clone)]
pub struct DbAuthOptions {
    pub auth: DbAuth,
    /// `DB_SECRET_ARN`, for `secret`.
    pub secret_arn: Option<String>,
    /// How long a read of the secret is trusted without a refusal.
    pub secret_ttl: Duration,
    /// `DB_IAM_REGION`, for `iam`; else the endpoint's.
    pub iam_region: Option<String>,
}

/// What a provider needs to know of the connection it serves.
#[derive(Debug, Clone)]
pub struct LoginEndpoint {
    /// The URL's host (for `iam`, the endpoint the token is signed for); `None` without a URL.
    pub host: Option<String>,
    /// The URL's TLS is `verify-full` (required for `iam`: the token is a bearer credential).
    pub verifies_server: bool,
}

/// The provider, and for `secret` the secret's fields as read at start (its `host`, `port`
/// and `dbname` stand in for a URL that is not given).
#[derive(Debug, Clone)]
pub struct ResolvedAuth {
    pub provider: Arc<dyn CredentialProvider>,
    pub secret: Option<DbSecret>,
}

#[derive(Debug, thiserror::Error)]
pub enum DbAuthError {
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{0}")]
    Invalid(String),
}

/// The provider `options` ask for; `None` for `password`.
pub async fn resolve(
    options: &DbAuthOptions,
    endpoint: &LoginEndpoint,
) -> Result<Option<ResolvedAuth>, DbAuthError> {
    match options.auth {
        DbAuth::Password => Ok(None),
        DbAuth::Secret => {
            let arn = options
                .secret_arn
                .as_deref()
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| DbAuthError::Invalid("DB_AUTH=secret needs DB_SECRET_ARN".into()))?;
            let sdk = crate::config::load_checked().await?;
            let store = SecretsManagerStore::new(crate::secret_store::secrets_client(&sdk), arn);
            let credentials = SecretCredentials::new(store, options.secret_ttl);
            let secret = credentials.load().await?;
            tracing::info!(%arn, user = %secret.credentials.user, "database credentials from Secrets Manager");
            Ok(Some(ResolvedAuth {
                provider: Arc::new(credentials),
                secret: Some(secret),
            }))
        }
        DbAuth::Iam => {
            let Some(host) = endpoint.host.as_deref() else {
                return Err(DbAuthError::Invalid(
                    "DB_AUTH=iam needs a connection URL naming the RDS endpoint".into(),
                ));
            };
            if !endpoint.verifies_server {
                return Err(DbAuthError::Invalid(
                    "DB_AUTH=iam sends a token that logs in for 15 minutes: the URL must say sslmode=verify-full (with sslrootcert=<Amazon's global-bundle.pem>)".into(),
                ));
            }
            let region = match options.iam_region.as_deref().map(str::trim) {
                Some(region) if !region.is_empty() => region.to_owned(),
                _ => region_of_endpoint(host).ok_or_else(|| {
                    DbAuthError::Invalid(format!(
                        "DB_AUTH=iam: the region cannot be read from the host {host}; set DB_IAM_REGION"
                    ))
                })?,
            };
            let sdk = crate::config::load_sdk_config().await;
            if let Some(endpoint) = sdk.endpoint_url() {
                domain::fetch_url::parse(endpoint)
                    .map_err(|e| AwsError::Invalid(format!("AWS_ENDPOINT_URL: {e}")))?;
            }
            let tokens = IamTokens::new(sdk, region.clone());
            tracing::info!(%region, %host, "database logins with RDS IAM tokens");
            Ok(Some(ResolvedAuth {
                provider: Arc::new(tokens),
                secret: None,
            }))
        }
    }
}

impl LoginEndpoint {
    /// What `settings` (a URL's) say of the login.
    pub fn of(settings: Option<&db::ConnectSettings>) -> Self {
        Self {
            host: settings.map(|s| s.login_host().0),
            verifies_server: settings
                .is_some_and(|s| s.ssl_mode == db::config::SslMode::VerifyFull),
        }
    }
}

/// A connection URL (without user or password) from a secret's `host`, `port` and `dbname`,
/// for when no URL is given.
pub fn url_from_secret(secret: &DbSecret) -> Result<String, DbAuthError> {
    let (Some(host), Some(dbname)) = (&secret.host, &secret.dbname) else {
        return Err(DbAuthError::Invalid(
            "no connection URL is set and the secret has no `host` and `dbname` to stand in for it"
                .into(),
        ));
    };
    if !plain(host, ".-:[]") || !plain(dbname, "_-") {
        return Err(DbAuthError::Invalid(
            "the secret's `host` or `dbname` holds characters a URL would read as syntax; set the connection URL instead".into(),
        ));
    }
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    Ok(format!(
        "postgres://{host}:{}/{dbname}",
        secret.port.unwrap_or(5432)
    ))
}

/// Letters, digits and `extra` only: nothing a URL would read as a separator.
fn plain(text: &str, extra: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// The settings a process without a command line (the Lambda) connects with: `url`'s when
/// given, else the secret's host; with the provider `options` ask for.
pub async fn connect_settings(
    options: &DbAuthOptions,
    url: Option<db::ConnectSettings>,
) -> Result<db::ConnectSettings, DbAuthError> {
    let resolved = resolve(options, &LoginEndpoint::of(url.as_ref())).await?;
    match (url, resolved) {
        (Some(settings), None) => Ok(settings),
        (Some(settings), Some(resolved)) => Ok(settings.with_credentials(resolved.provider)),
        (
            None,
            Some(ResolvedAuth {
                provider,
                secret: Some(secret),
            }),
        ) => {
            let raw = url_from_secret(&secret)?;
            let settings = db::DatabaseUrl::new(raw)
                .parse()
                .map_err(|e| DbAuthError::Invalid(format!("the secret's host: {e}")))?;
            Ok(settings.with_credentials(provider))
        }
        (None, _) => Err(DbAuthError::Invalid(format!(
            "DB_AUTH={}: set CONNECTION_URL",
            options.auth
        ))),
    }
}
