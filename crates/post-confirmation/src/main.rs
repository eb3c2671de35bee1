//! The Lambda binary: configuration and the pool are built once per container (the pool opens
//! its connection on first use), then every invocation runs the library's handler.

use std::time::Duration;

use db::{DatabaseUrl, PoolSettings};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// One invocation at a time per container: one connection is enough.
const POOL_MAX_SIZE: usize = 1;
/// Fails an invocation whose database cannot be reached within this bound (set the function's
/// timeout above connect_timeout + this).
const ACQUIRE_TIMEOUT_MS: u64 = 3_000;
const STATEMENT_TIMEOUT_MS: u64 = 3_000;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .without_time()
        .with_ansi(false)
        .init();
    let url =
        std::env::var("CONNECTION_URL").map_err(|_| Error::from("CONNECTION_URL is not set"))?;
    let settings = DatabaseUrl::new(url)
        .parse()
        .map_err(|e| Error::from(format!("CONNECTION_URL is not usable: {e}")))?;
    let pool = db::pool::build_pool(
        &settings,
        &PoolSettings {
            max_size: POOL_MAX_SIZE,
            acquire_timeout: Duration::from_millis(ACQUIRE_TIMEOUT_MS),
            statement_timeout: Duration::from_millis(STATEMENT_TIMEOUT_MS),
        },
    )?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let pool = pool.clone();
        async move { post_confirmation::handle_json(&pool, event.payload).await }
    }))
    .await
}
