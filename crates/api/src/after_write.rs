//! A read that must see the reader's own write. Right after a post, the page reads itself again
//! and must show the post, so that read may not come from a standby that has not replayed it
//! (see `db::reads`). Any client could ask for that, though, and pin every read to the primary;
//! so a read is served as "after my write" only with a proof of a write: a short-lived value,
//! signed with this process's key over its expiry and the writer's address, that each successful
//! write's answer carries in `X-After-Write` and the read sends back from the same address.
//!
//! The key is made at start and never leaves the process: behind several servers, a proof is
//! honoured by the server that issued it (elsewhere the read is served within the lag bound).

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use db::reads::Freshness;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::client_address::per_subscriber;

/// The header a write's answer carries its proof in, and a read sends it back in.
pub const AFTER_WRITE_HEADER: &str = "x-after-write";

/// How long a proof is honoured: the page reads again at once; a proof kept longer buys nothing.
pub const PROOF_LIFETIME: Duration = Duration::from_secs(10);

static KEY: LazyLock<[u8; 32]> = LazyLock::new(|| {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    key
});

fn mac() -> Hmac<Sha256> {
    // An HMAC takes a key of any length: this cannot fail.
    <Hmac<Sha256> as KeyInit>::new_from_slice(&*KEY).expect("HMAC accepts any key length")
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// The signature of a proof expiring at `expires` for a client at `client`.
fn sign(expires: &str, client: Option<IpAddr>) -> Hmac<Sha256> {
    let mut mac = mac();
    mac.update(expires.as_bytes());
    mac.update(b"|");
    if let Some(client) = client {
        mac.update(per_subscriber(client).to_string().as_bytes());
    }
    mac
}

/// A proof valid for [`PROOF_LIFETIME`], for `client` only: `<expiry in ms since the epoch>.<its
/// signature>`.
fn issue(client: Option<IpAddr>) -> HeaderValue {
    let expires = (now_ms() + PROOF_LIFETIME.as_millis()).to_string();
    let mac = sign(&expires, client);
    let tag = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    HeaderValue::from_str(&format!("{expires}.{tag}")).expect("digits, a dot and base64url")
}

/// Whether `value` is a proof this process issued to `client` that has not expired.
fn is_valid(value: &[u8], client: Option<IpAddr>) -> bool {
    let Ok(text) = std::str::from_utf8(value) else {
        return false;
    };
    let Some((expires, tag)) = text.split_once('.') else {
        return false;
    };
    let (Ok(expiry), Ok(tag)) = (expires.parse::<u128>(), URL_SAFE_NO_PAD.decode(tag)) else {
        return false;
    };
    sign(expires, client).verify_slice(&tag).is_ok() && now_ms() <= expiry
}

/// The client a proof is tied to: the TCP peer (`ConnectInfo`, which the accept loop sets).
fn peer(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

/// The freshness a read needs, as an extractor: everything committed before now when it
/// carries a valid proof of this client's write; otherwise whatever a standby within the lag
/// bound holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fresh(pub(crate) Freshness);

impl<S: Send + Sync> FromRequestParts<S> for Fresh {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let proven = parts
            .headers
            .get(AFTER_WRITE_HEADER)
            .is_some_and(|proof| is_valid(proof.as_bytes(), peer(&parts.extensions)));
        Ok(Self(if proven {
            Freshness::CaughtUpTo(std::time::Instant::now())
        } else {
            Freshness::WithinLagBound
        }))
    }
}

/// Middleware of the write routes: a successful write's answer carries a fresh proof.
pub(crate) async fn attach_proof(request: Request, next: Next) -> Response {
    let client = peer(request.extensions());
    let mut response = next.run(request).await;
    if response.status().is_success() {
        response
            .headers_mut()
            .insert(AFTER_WRITE_HEADER, issue(client));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unexpired_proof_of_this_process_for_this_client_counts() {
        let me: Option<IpAddr> = Some("192.0.2.7".parse().unwrap());
        let proof = issue(me);
        assert!(is_valid(proof.as_bytes(), me));
        assert!(
            !is_valid(proof.as_bytes(), Some("192.0.2.8".parse().unwrap())),
            "another client's proof"
        );
        assert!(!is_valid(proof.as_bytes(), None));
        let text = proof.to_str().unwrap();
        let (expires, tag) = text.split_once('.').unwrap();
        // Another expiry with the same signature, a forged signature, and plain text: refused.
        let later = format!("{}.{tag}", expires.parse::<u128>().unwrap() + 60_000);
        assert!(!is_valid(later.as_bytes(), me));
        let forged = format!("{expires}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert!(!is_valid(forged.as_bytes(), me));
        for junk in ["1", "", ".", "x.y", "99999999999999.abc"] {
            assert!(!is_valid(junk.as_bytes(), me), "{junk}");
        }
        // A genuine proof that has expired.
        let past = (now_ms() - 1).to_string();
        let expired = format!(
            "{past}.{}",
            URL_SAFE_NO_PAD.encode(sign(&past, me).finalize().into_bytes())
        );
        assert!(!is_valid(expired.as_bytes(), me));
    }
}
