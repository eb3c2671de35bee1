//! Cruddur's PostgreSQL layer: the only crate that speaks SQL.
//!
//! - [`config`]: connection URLs (libpq options, masking), [`tls`]: rustls setup
//! - [`pool`]: the pooled async client, [`error`]: typed errors
//! - [`migrations`], [`seeds`], [`admin`]: schema, seed data, database administration
//! - [`embedded`]: the private cluster used when no URL is configured, and by tests

pub mod admin;
pub mod config;
pub mod embedded;
pub mod error;
pub mod migrations;
pub mod pool;
pub mod seeds;
pub mod tls;

pub use config::{ConnectSettings, DatabaseUrl};
pub use error::DbError;
pub use pool::{Pool, PoolSettings};
