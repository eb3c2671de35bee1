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
}

impl AuthArgs {
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
