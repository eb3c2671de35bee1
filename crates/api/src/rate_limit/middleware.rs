//! The write routes' middleware: counts a write against its client address's allowance before
//! the body is read, and reports the tighter of that and the author's allowance in the answer.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::rejection::ExtensionRejection;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::allowance::WriteLimiter;
use super::headers;
use crate::client_address::per_subscriber;
use crate::error::ApiError;

/// Middleware of the write routes: counts the write against the client address's allowance
/// (refusing it before the body is read), then reports the tighter of that and the author's
/// allowance (which the handler checked) in the response headers.
pub async fn limit_writes(
    State(limiter): State<Arc<WriteLimiter>>,
    peer: Result<ConnectInfo<SocketAddr>, ExtensionRejection>,
    request: Request,
    next: Next,
) -> Response {
    let by_address = match peer {
        Ok(ConnectInfo(peer)) => {
            client_address(limiter.limits().trust_proxy_hops, peer, request.headers())
                .and_then(|client| limiter.check_address(client).map_err(ApiError::from))
        }
        // Only a server started without the accept loop of `crate::server` has no peer.
        Err(_) if limiter.limits().per_address.is_some() => Err(ApiError::Internal(
            "a write arrived without its peer address (ConnectInfo)".into(),
        )),
        Err(_) => Ok(None),
    };
    // A refusal (by address here, or by author in the handler) reports itself.
    let (mut response, by_address) = match by_address {
        Ok(allowance) => (next.run(request).await, allowance),
        Err(refused) => (refused.into_response(), None),
    };
    let tightest = match (by_address, headers::reported(&response)) {
        (Some(a), Some(b)) => Some(a.tighter(b)),
        (a, b) => a.or(b),
    };
    if let Some(allowance) = tightest {
        headers::write_rate_headers(&allowance, response.headers_mut());
    }
    response
}

/// The client a request comes from: the TCP peer, or with `hops` = N trusted proxies the Nth
/// `X-Forwarded-For` entry from the right (the peer when there are fewer). An entry may carry a
/// port (`203.0.113.7:4711`, `[2001:db8::1]:443`); one that is no address is refused, since
/// counting it as the peer would put every client behind that proxy in one bucket. IPv6
/// clients count per /64, the block one subscriber usually holds.
fn client_address(hops: usize, peer: SocketAddr, headers: &HeaderMap) -> Result<IpAddr, ApiError> {
    // From the right, over every X-Forwarded-For line, as bytes: a client's own entries
    // (which may not even be ASCII) come first and are never read.
    let trusted_entry = hops.checked_sub(1).and_then(|skip| {
        headers
            .get_all("x-forwarded-for")
            .iter()
            .rev()
            .flat_map(|line| line.as_bytes().rsplit(|b| *b == b','))
            .nth(skip)
    });
    let client = match trusted_entry {
        None => peer.ip(),
        Some(entry) => {
            forwarded_address(entry).ok_or(ApiError::BadRequest("forwarded_for_invalid"))?
        }
    };
    Ok(per_subscriber(client))
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (IPv6 then in brackets).
fn forwarded_address(entry: &[u8]) -> Option<IpAddr> {
    let entry = std::str::from_utf8(entry).ok()?.trim();
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address);
    }
    if let Some(bracketed) = entry.strip_prefix('[') {
        let (v6, rest) = bracketed.split_once(']')?;
        let port_ok = rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port);
        return port_ok.then(|| v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6))?;
    }
    let (v4, port) = entry.split_once(':')?;
    if !is_port(port) {
        return None;
    }
    v4.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_client_is_the_peer_unless_proxies_are_trusted() {
        let peer: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7"),
        );
        assert_eq!(
            client_address(0, peer, &headers).unwrap(),
            "10.0.0.9".parse::<IpAddr>().unwrap(),
            "with no trusted proxy X-Forwarded-For is the client's to forge"
        );
        assert_eq!(
            client_address(1, peer, &headers).unwrap(),
            "203.0.113.7".parse::<IpAddr>().unwrap(),
            "the address the trusted proxy appended, not the forged one before it"
        );
        assert_eq!(
            client_address(3, peer, &headers).unwrap(),
            "10.0.0.9".parse::<IpAddr>().unwrap(),
            "too short a chain falls back to the peer"
        );
        // The chain runs over every header line in order; a client's own entry may be any bytes.
        let mut lines = HeaderMap::new();
        lines.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"caf\xc3\xa9, 6.6.6.6").unwrap(),
        );
        lines.append("x-forwarded-for", HeaderValue::from_static("198.51.100.4"));
        lines.append("x-forwarded-for", HeaderValue::from_static("203.0.113.7"));
        assert_eq!(
            client_address(2, peer, &lines).unwrap(),
            "198.51.100.4".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn forwarded_entries_with_ports_parse_and_unparsable_ones_are_refused() {
        let peer: SocketAddr = "10.0.0.9:5000".parse().unwrap();
        let with = |entry: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert("x-forwarded-for", HeaderValue::from_static(entry));
            client_address(1, peer, &headers)
        };
        for (entry, client) in [
            ("203.0.113.7:4711", "203.0.113.7"),
            (" 203.0.113.7 ", "203.0.113.7"),
            ("[2001:db8:1:2::7]:443", "2001:db8:1:2::"),
            ("[2001:db8:1:2::7]", "2001:db8:1:2::"),
            ("2001:db8:1:2::7", "2001:db8:1:2::"),
        ] {
            assert_eq!(
                with(entry).unwrap(),
                client.parse::<IpAddr>().unwrap(),
                "{entry}"
            );
        }
        for entry in [
            "unknown",
            "",
            "203.0.113.7:",
            "203.0.113.7:99999",
            "203.0.113.7:80:80",
            "[2001:db8::1",
            "[2001:db8::1]x",
            "[203.0.113.7]:80",
            "2001:db8::1:443x",
        ] {
            assert_eq!(
                with(entry).map_err(|e| e.codes()),
                Err(vec!["forwarded_for_invalid"]),
                "{entry:?}"
            );
        }
    }
}
