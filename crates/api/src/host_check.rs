//! Dev mode's guard against DNS rebinding. In dev mode a write names its author and needs no
//! credentials, so a web page on another site could post as anyone by pointing a DNS name of
//! its own at 127.0.0.1 and calling the local server through it: the browser then treats the
//! server as that site's. Such a request still carries the site's name in `Host`, so a server
//! that answers only loopback names (`localhost`, `127.x.y.z`, `[::1]`, with a port) is out of
//! its reach.

use std::net::{IpAddr, Ipv6Addr};

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Middleware: refuses a request whose `Host` is not a loopback name. A request without `Host`
/// (HTTP/1.0, or sent without a socket) is answered: no browser sends one.
pub(crate) async fn loopback_hosts_only(request: Request, next: Next) -> Response {
    let refused = request
        .headers()
        .get(header::HOST)
        .is_some_and(|host| !host.to_str().is_ok_and(is_loopback_host));
    if refused {
        return ApiError::HostNotAllowed.into_response();
    }
    next.run(request).await
}

/// Whether `host` (a `Host` header: a name or address, optionally with a port) names this
/// machine's loopback.
fn is_loopback_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((v6, rest)) => {
                let port = match rest.strip_prefix(':') {
                    Some(port) => port_ok(port),
                    None => rest.is_empty(),
                };
                return port && v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
            }
            None => return false,
        },
        None => match host.split_once(':') {
            Some((name, port)) => (name, port),
            None => (host, "0"),
        },
    };
    port_ok(port)
        && (name.eq_ignore_ascii_case("localhost")
            || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()))
}

fn port_ok(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_with_an_optional_port_pass() {
        for ok in [
            "localhost",
            "localhost:4567",
            "LocalHost:3000",
            "127.0.0.1",
            "127.0.0.1:4567",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:4567",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:4567",
            "localhost.evil.example",
            "127.0.0.1.nip.io:4567",
            "10.0.0.1:4567",
            "[::ffff:127.0.0.1]:4567",
            "[::1]x",
            "[::1",
            "localhost:",
            "localhost:45x",
            "localhost:4567:1",
            "",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
