//! `DB_AUTH=secret|iam`: the target's connections take their user and password from a
//! Secrets Manager secret or RDS IAM tokens (`aws::db_auth`). The lean build has neither.

use crate::target::{ConnectionArgs, Target};

/// The database `args` name, with `DB_AUTH`'s credentials (read now, so a wrong secret stops
/// the command here).
pub(crate) async fn resolve(args: &ConnectionArgs) -> anyhow::Result<Target> {
    if args.auth.db_auth == db::credentials::DbAuth::Password {
        return args.resolve_url(None);
    }
    with_provider(args).await
}

#[cfg(feature = "aws")]
async fn with_provider(args: &ConnectionArgs) -> anyhow::Result<Target> {
    use anyhow::{bail, Context};

    let options = aws::db_auth::DbAuthOptions {
        auth: args.auth.db_auth,
        secret_arn: args.auth.db_secret_arn.clone(),
        secret_ttl: std::time::Duration::from_secs(args.auth.db_secret_ttl_secs),
        iam_region: args.auth.db_iam_region.clone(),
    };
    let (configured, source) = args.configured_url()?;
    let parsed = configured
        .as_deref()
        .map(|raw| {
            db::DatabaseUrl::new(raw)
                .parse()
                .with_context(|| format!("{source} is not usable"))
        })
        .transpose()?;
    let endpoint = aws::db_auth::LoginEndpoint::of(parsed.as_ref());
    let Some(resolved) = aws::db_auth::resolve(&options, &endpoint)
        .await
        .with_context(|| format!("DB_AUTH={}", options.auth))?
    else {
        return args.resolve_url(None);
    };
    // Without a URL, the secret's own host, port and database say where to connect.
    let fallback = match (&configured, &resolved.secret) {
        (Some(_), _) => None,
        (None, Some(secret)) => Some(
            aws::db_auth::url_from_secret(secret)
                .with_context(|| format!("DB_AUTH=secret without {source}"))?,
        ),
        (None, None) => bail!("DB_AUTH={}: set {source}", options.auth),
    };
    let mut target = args.resolve_url(fallback.as_deref())?;
    target.settings = target.settings.with_credentials(resolved.provider);
    Ok(target)
}

#[cfg(not(feature = "aws"))]
async fn with_provider(args: &ConnectionArgs) -> anyhow::Result<Target> {
    Err(crate::aws_unavailable::unavailable(&format!(
        "DB_AUTH={}",
        args.auth.db_auth
    )))
}
