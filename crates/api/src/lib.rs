//! Cruddur's HTTP API (axum). No SQL here: handlers validate input with `domain`, call `db`,
//! and shape responses. Errors are JSON arrays of codes (see [`error`]).

pub mod after_write;
pub mod app;
pub mod author;
pub mod body;
pub mod capped_body;
mod client_address;
pub mod cognito;
mod connections;
pub mod cors;
mod descriptors;
pub mod error;
pub mod feed_cache;
pub mod hit_lane;
mod host_check;
pub mod idempotency;
pub mod json;
pub mod limits;
pub mod observe;
pub mod openapi;
pub mod path;
pub mod rate_limit;
pub mod responses;
pub mod router;
pub mod routes;
pub mod server;
pub mod sign_in;
pub mod state;
pub mod web;
mod writes;

pub use app::{App, AppConfig, AuthorConfig, FeedConfig, HttpConfig, StartError};
pub use author::AuthorMode;
pub use error::ApiError;
pub use router::{serve_layers, RouterOptions};
pub use state::AppState;
