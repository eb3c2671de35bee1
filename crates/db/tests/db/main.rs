//! Integration tests of the data layer against a real PostgreSQL started by the harness.
#![allow(clippy::unwrap_used)] // helpers of a test binary: a panic is the failure report

mod admin;
mod connection_errors;
mod create_queue;
mod cut_proxy;
mod harness;
mod idempotency;
mod migrations;
mod purge;
mod replies_count;
mod schema;
mod seeds;
mod sessions;
mod statements;
mod web_sessions;
