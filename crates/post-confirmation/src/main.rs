//! The Lambda binary: configuration and the pool are built once per container (the pool opens
//! its connection on first use), then every invocation runs the library's handler.

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
    let url =
        std::env::var("CONNECTION_URL").map_err(|_| Error::from("CONNECTION_URL is not set"))?;
    let settings = DatabaseUrl::new(url)
        .parse()
        .map_err(|e| Error::from(format!("CONNECTION_URL is not usable: {e}")))?;
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
