//! The Lambda binary: configuration and the pool are built once per container (the pool opens
//! its connection on first use), then every invocation runs the library's handler.

// The AWS SDK's futures (DB_AUTH=secret|iam) nest deeper than the compiler's default limit
// allows for computing `main`'s layout.
#![recursion_limit = "256"]

use db::DatabaseUrl;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // RUST_LOG sets the level; the driver's lines carrying statement values (emails, names)
    // are dropped whatever it says (see db::driver_logs).
    let levels = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .without_time()
                .with_ansi(false)
                .with_filter(levels.and(filter_fn(|meta| db::driver_logs::may_log(meta.target())))),
        )
        .init();
    let url = match std::env::var("CONNECTION_URL") {
        Ok(url) if !url.trim().is_empty() => Some(
            DatabaseUrl::new(url)
                .parse()
                .map_err(|e| Error::from(format!("CONNECTION_URL is not usable: {e}")))?,
        ),
        _ => None,
    };
    // Read once per container: the secret is cached across invocations and read again only
    // after its TTL or a refused login, so a warm invocation stays far inside Cognito's 5 s.
    let settings = connect_settings(url).await?;
    // Behind RDS Proxy (the usual way a Lambda reaches RDS) or PgBouncer in transaction mode.
    let pooler = match std::env::var("DB_POOLER") {
        Ok(value) => value
            .parse::<db::Pooler>()
            .map_err(|e| Error::from(format!("DB_POOLER: {e}")))?,
        Err(_) => db::Pooler::None,
    };
    let pool = db::pool::build_pool(
        &settings,
        &db::PoolSettings {
            pooler,
            ..post_confirmation::pool_settings()
        },
    )?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let pool = pool.clone();
        async move {
            post_confirmation::handle_json(&pool, event.payload)
                .await
                .map_err(|e| e.diagnostic(&event.context.request_id))
        }
    }))
    .await
}

/// `DB_AUTH` and its companions, as `cruddur` reads them.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(feature = "aws")]
async fn connect_settings(url: Option<db::ConnectSettings>) -> Result<db::ConnectSettings, Error> {
    let auth = match env_var("DB_AUTH") {
        Some(value) => value.parse::<db::credentials::DbAuth>()?,
        None => db::credentials::DbAuth::Password,
    };
    let secret_ttl = match env_var("DB_SECRET_TTL_SECS") {
        Some(value) => std::time::Duration::from_secs(
            value
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .ok_or_else(|| {
                    Error::from("DB_SECRET_TTL_SECS is not a positive number of seconds")
                })?,
        ),
        None => db::credentials::secret::DEFAULT_SECRET_TTL,
    };
    let options = aws::db_auth::DbAuthOptions {
        auth,
        secret_arn: env_var("DB_SECRET_ARN"),
        secret_ttl,
        iam_region: env_var("DB_IAM_REGION"),
    };
    aws::db_auth::connect_settings(&options, url)
        .await
        .map_err(|e| Error::from(format!("DB_AUTH={auth}: {e}")))
}

/// Built without the AWS SDK: only the URL's password.
#[cfg(not(feature = "aws"))]
async fn connect_settings(url: Option<db::ConnectSettings>) -> Result<db::ConnectSettings, Error> {
    if env_var("DB_AUTH").is_some_and(|a| a.trim() != "password") {
        return Err(Error::from(
            "DB_AUTH=secret|iam needs the Lambda built with its default features (the `aws` feature)",
        ));
    }
    url.ok_or_else(|| Error::from("CONNECTION_URL is not set"))
}
