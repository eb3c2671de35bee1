//! The HTTP API, router-level (`oneshot`) on a fresh database per test, plus one real socket.
#![allow(clippy::unwrap_used)] // helpers of a test binary: a panic is the failure report

mod activities;
mod bounded;
mod cognito;
mod cognito_support;
mod cors_and_docs;
mod errors;
mod feed_cache;
mod helpers;
mod idempotency;
mod limits;
mod outage;
mod rate_limits;
mod replies;
mod server;
mod shape;
mod sign_in;
mod users;
mod web;
