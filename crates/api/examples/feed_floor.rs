//! The benchmark's floor for the cached feed (bench/run.py): the least an axum server can do to
//! answer `GET /api/activities/home` with the same bytes from memory — no state, no cache
//! checks, no middleware, mimalloc like `cruddur`. Not part of the service.
//!
//! Usage: feed_floor --bind 127.0.0.1:PORT --body FILE

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str) -> String {
    let mut args = std::env::args().skip_while(|a| a != name).skip(1);
    args.next()
        .unwrap_or_else(|| panic!("usage: feed_floor --bind ADDR --body FILE (missing {name})"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind: SocketAddr = arg("--bind").parse().expect("--bind ADDR");
    let body = Bytes::from(std::fs::read(arg("--body"))?);
    let app = Router::new().route(
        "/api/activities/home",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body) }
        }),
    );
    // TCP_NODELAY, as `cruddur` sets it.
    let listener = tokio::net::TcpListener::bind(bind).await?.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
