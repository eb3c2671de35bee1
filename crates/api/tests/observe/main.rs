//! Log capture tests, in a binary of their own: tracing caches each callsite's interest
//! process-wide, and tests on other threads with no subscriber (the whole API suite, some on
//! multi-threaded runtimes) raced with the thread-local subscribers these tests install, now and
//! then dropping a captured event.
#![allow(clippy::unwrap_used)] // helpers of a test binary: a panic is the failure report

#[allow(dead_code)] // shared with the API suite; this binary uses part of it
#[path = "../api/helpers.rs"]
mod helpers;
mod observe;
