//! Cruddur's PostgreSQL layer: the only crate that speaks SQL.
//!
//! - [`config`]: connection URLs (libpq options, masking), [`tls`]: rustls setup
//! - [`pool`]: the pooled async client, [`error`]: typed errors
//! - [`migrations`], [`seeds`], [`admin`]: schema, seed data, database administration
//! - [`activities`], [`users`], [`health`]: the queries behind the HTTP API
//! - [`create_queue`]: group commit for concurrent creates
//! - [`embedded`]: the private cluster used when no URL is configured, and by tests

pub mod activities;
pub mod admin;
pub mod config;
pub mod create_queue;
pub mod embedded;
pub mod error;
pub mod health;
pub mod json;
pub mod migrations;
pub mod pool;
pub mod seeds;
pub mod tls;
pub mod users;

pub use config::{ConnectSettings, DatabaseUrl};
pub use create_queue::{CreateQueue, CreateQueueSettings};
pub use error::DbError;
pub use pool::{Pool, PoolSettings};
