//! Who may write: the Cognito flags of `serve` and `up`, turned into [`api::AuthorConfig`].

use std::time::Duration;

/// Cognito mode when a user pool and its app client are configured, else dev mode.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AuthArgs {
    /// Cognito user pool id (e.g. us-east-1_AbCdEf); with the client id, turns on cognito mode.
    #[arg(long, env = "AWS_COGNITO_USER_POOL_ID")]
    pub cognito_user_pool_id: Option<String>,
    /// The pool's app client id that access tokens must carry.
    #[arg(long, env = "AWS_COGNITO_USER_POOL_CLIENT_ID")]
    pub cognito_client_id: Option<String>,
    /// Where the pool's signing keys are (default: the pool's URL at cognito-idp.<region>.amazonaws.com).
    #[arg(long, env = "AWS_COGNITO_JWKS_URL")]
    pub cognito_jwks_url: Option<String>,
    /// A token with an unknown key id refetches the keys at most this often.
    #[arg(long, env = "AWS_COGNITO_JWKS_MIN_REFRESH_SECS", default_value_t = api::cognito::DEFAULT_JWKS_MIN_REFRESH_SECS)]
    pub cognito_jwks_min_refresh_secs: u64,
    /// Let dev mode (no authentication: anyone can post as anyone) listen on a non-loopback
    /// address. Without it, dev mode refuses to.
    #[arg(long)]
    pub allow_dev_auth_on_network: bool,
    /// The user pool's managed login (https://<prefix>.auth.<region>.amazoncognito.com, or its
    /// custom domain): turns on sign-in on the page (cognito mode only). The app client's secret,
    /// if it has one, is read from AWS_COGNITO_USER_POOL_CLIENT_SECRET (environment only).
    #[arg(long, env = "COGNITO_DOMAIN")]
    pub cognito_domain: Option<String>,
    /// This site's origin as browsers reach it (https://cruddur.example): the sign-in callback
    /// is <origin>/auth/callback and sign-out returns to <origin>/. Needed with COGNITO_DOMAIN.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A session unused this long ends (sign-in on the page).
    #[arg(long, env = "SESSION_IDLE_SECS", default_value_t = api::sign_in::config::DEFAULT_SESSION_IDLE_SECS)]
    pub session_idle_secs: u64,
    /// A session ends this long after sign-in, however it is used.
    #[arg(long, env = "SESSION_MAX_SECS", default_value_t = api::sign_in::config::DEFAULT_SESSION_MAX_SECS)]
    pub session_max_secs: u64,
}

/// The environment variable the app client's secret is read from: never a flag (argv is
/// readable by every user of the machine).
pub(crate) const CLIENT_SECRET_ENV: &str = "AWS_COGNITO_USER_POOL_CLIENT_SECRET";

impl AuthArgs {
    /// Sign-in on the page, when a managed login is configured.
    pub(crate) fn sign_in(&self) -> anyhow::Result<Option<api::sign_in::SignInConfig>> {
        let Some(domain) = self.cognito_domain.as_deref().filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let secret = std::env::var(CLIENT_SECRET_ENV)
            .ok()
            .filter(|v| !v.is_empty())
            .map(secrecy::SecretString::from);
        let config = api::sign_in::SignInConfig::new(
            domain,
            self.public_url.as_deref().unwrap_or_default(),
            secret,
            db::web_sessions::Lifetimes {
                idle: Duration::from_secs(self.session_idle_secs),
                max: Duration::from_secs(self.session_max_secs),
            },
        )?;
        Ok(Some(config))
    }

    pub(crate) fn config(&self) -> anyhow::Result<api::AuthorConfig> {
        let pool = self
            .cognito_user_pool_id
            .as_deref()
            .filter(|v| !v.is_empty());
        let client = self.cognito_client_id.as_deref().filter(|v| !v.is_empty());
        let (pool, client) = match (pool, client) {
            (None, None) => {
                return Ok(api::AuthorConfig::Dev {
                    allow_on_network: self.allow_dev_auth_on_network,
                })
            }
            (Some(pool), Some(client)) => (pool, client),
            _ => anyhow::bail!(
                "set both AWS_COGNITO_USER_POOL_ID and AWS_COGNITO_USER_POOL_CLIENT_ID for cognito mode, or neither for dev mode"
            ),
        };
        let region = std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .ok();
        let mut config = api::cognito::CognitoConfig::new(pool, client, region.as_deref())?;
        if let Some(url) = self.cognito_jwks_url.as_deref().filter(|u| !u.is_empty()) {
            config.set_jwks_url(url)?;
        }
        if self.cognito_jwks_min_refresh_secs == 0 {
            anyhow::bail!("AWS_COGNITO_JWKS_MIN_REFRESH_SECS must be at least 1 (0 would let every forged key id fetch the keys)");
        }
        config.min_refresh = Duration::from_secs(self.cognito_jwks_min_refresh_secs);
        Ok(api::AuthorConfig::Cognito(config))
    }
}
