//! The driver's log lines that carry what a statement was given. tokio-postgres logs every
//! statement's bound parameters at debug level (`tokio_postgres::query`) and the text of every
//! simple query (`tokio_postgres::simple_query`): emails, names, messages and any secret an
//! administrative statement spells out. A binary's subscriber drops these targets whatever
//! `RUST_LOG` asks for, so turning on debug logs never turns on personal data.

/// The log targets that carry statement values.
pub const VALUE_CARRYING_TARGETS: [&str; 2] =
    ["tokio_postgres::query", "tokio_postgres::simple_query"];

/// Whether a log line of `target` may be written: false for [`VALUE_CARRYING_TARGETS`].
pub fn may_log(target: &str) -> bool {
    !VALUE_CARRYING_TARGETS.contains(&target)
}
