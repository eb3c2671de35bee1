//! Cruddur's PostgreSQL layer: the only crate that speaks SQL.
//!
//! - [`config`]: connection URLs (libpq options, masking), [`tls`]: rustls setup
//! - [`credentials`]: where a connection's password comes from (URL, secret, IAM token);
//!   [`connect`]: opening one connection with it
//! - [`pool`]: the pooled async client, [`error`]: typed errors
//! - [`migrations`], [`seeds`], [`admin`]: schema, seed data, database administration;
//!   [`roles`]: the app's least-privilege login role
//! - [`activity`]: the one activity shape every route returns
//! - [`activities`], [`users`], [`health`]: the queries behind the HTTP API
//! - [`create_queue`]: group commit for concurrent creates
//! - [`statement`]: every pooled statement and how it is sent (direct or behind a pooler)
//! - [`reads`]: reads on streaming standbys, the primary as the fallback
//! - [`service`]: the service's database section of its config, and what it starts

pub mod activities;
pub mod activity;
pub mod admin;
pub mod config;
pub mod connect;
pub mod create_queue;
pub mod credentials;
pub mod driver_logs;
pub mod error;
pub mod health;
pub mod idempotency;
pub mod migrations;
pub mod notify;
pub mod pool;
pub mod reads;
pub mod roles;
pub mod seeds;
pub mod service;
pub mod statement;
pub mod tls;
pub mod users;
pub mod web_sessions;

pub use config::{ConnectSettings, DatabaseUrl};
pub use create_queue::{CreateQueue, CreateQueueSettings};
pub use error::DbError;
pub use pool::{Pool, PoolSettings, Pooler};
pub use reads::Reads;
pub use service::{Database, DatabaseConfig};
