//! One tracing subscriber for every command: human-readable on stderr by default, JSON lines
//! with `--log-format json`; `RUST_LOG` overrides the level, except that the driver's lines
//! carrying statement values are never written (see [`db::driver_logs`]).

use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Pretty,
    Json,
}

pub(crate) fn init(format: LogFormat, default_level: &str) {
    let levels =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let filter = levels.and(filter_fn(|meta| db::driver_logs::may_log(meta.target())));
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Pretty => lines.boxed(),
        LogFormat::Json => lines.json().boxed(),
    };
    // Only fails when a subscriber is already set, which is harmless.
    let _ = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .try_init();
}
