//! The login transaction, kept by the browser between "Sign in" and the callback in a cookie of
//! its own: the `state` the callback must echo, the `nonce` the ID token must carry, the PKCE
//! verifier, and where to go afterwards. Signed (HMAC-SHA-256 with a key every server instance
//! shares), so it cannot be forged or edited; it expires after [`LIFETIME`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// How long a sign-in may take at the managed login.
pub const LIFETIME: Duration = Duration::from_secs(600);
/// What the signature covers besides the payload: a value signed for anything else never passes.
const CONTEXT: &[u8] = b"cruddur sign-in transaction v1|";
const VERSION: &str = "v1";

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// A local path (see [`local_path`]).
    pub return_to: String,
    /// Seconds since the epoch.
    pub expires: u64,
}

/// Its secrets stay out of logs.
impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("return_to", &self.return_to)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransactionError {
    #[error("not a sign-in transaction")]
    Malformed,
    #[error("the sign-in transaction's signature is wrong")]
    Forged,
    #[error("the sign-in transaction has expired")]
    Expired,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mac(key: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(CONTEXT);
    mac.update(payload.as_bytes());
    mac
}

/// The cookie value: `v1.<payload>.<signature>`, base64url.
pub fn seal(key: &[u8], transaction: &Transaction) -> String {
    let json = serde_json::to_vec(transaction).expect("a struct of strings serialises");
    let payload = URL_SAFE_NO_PAD.encode(json);
    let tag = URL_SAFE_NO_PAD.encode(mac(key, &payload).finalize().into_bytes());
    format!("{VERSION}.{payload}.{tag}")
}

/// The transaction a cookie value holds, if this site signed it and it has not expired at `now`.
pub fn open(key: &[u8], value: &str, now: u64) -> Result<Transaction, TransactionError> {
    let mut parts = value.split('.');
    let (Some(VERSION), Some(payload), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TransactionError::Malformed);
    };
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| TransactionError::Malformed)?;
    mac(key, payload)
        .verify_slice(&tag)
        .map_err(|_| TransactionError::Forged)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TransactionError::Malformed)?;
    let transaction: Transaction =
        serde_json::from_slice(&json).map_err(|_| TransactionError::Malformed)?;
    if transaction.expires <= now {
        return Err(TransactionError::Expired);
    }
    Ok(transaction)
}

/// `wanted` when it is a path on this site (`/`, `/@andrewbrown?x`), else `/`: never another
/// origin (`//evil.example`, `https://…`, `/\evil.example`), so sign-in is no open redirect.
pub fn local_path(wanted: Option<&str>) -> String {
    match wanted {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                // Visible ASCII only (a path the site makes is; it goes into a header as is).
                && path.bytes().all(|b| b.is_ascii_graphic())
                && path.len() <= 2048 =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(expires: u64) -> Transaction {
        Transaction {
            state: "state-1".into(),
            nonce: "nonce-1".into(),
            pkce_verifier: "verifier-1".into(),
            return_to: "/@andrewbrown".into(),
            expires,
        }
    }

    #[test]
    fn a_sealed_transaction_opens_with_the_same_key_until_it_expires() {
        let key = [9u8; 32];
        let sealed = seal(&key, &sample(1_000));
        assert_eq!(open(&key, &sealed, 999), Ok(sample(1_000)));
        assert_eq!(open(&key, &sealed, 1_000), Err(TransactionError::Expired));
        assert_eq!(
            open(&[8u8; 32], &sealed, 999),
            Err(TransactionError::Forged)
        );
    }

    #[test]
    fn an_edited_or_truncated_value_is_refused() {
        let key = [9u8; 32];
        let sealed = seal(&key, &sample(1_000));
        let (head, tag) = sealed.rsplit_once('.').unwrap();
        // Another payload under the old signature: the payload of a later expiry.
        let other = seal(&key, &sample(5_000));
        let other_payload = other.split('.').nth(1).unwrap();
        let swapped = format!("v1.{other_payload}.{tag}");
        assert_eq!(open(&key, &swapped, 999), Err(TransactionError::Forged));
        assert_eq!(open(&key, head, 999), Err(TransactionError::Malformed));
        assert_eq!(
            open(&key, &format!("{sealed}.x"), 999),
            Err(TransactionError::Malformed)
        );
        assert_eq!(
            open(&key, &sealed.replacen("v1", "v2", 1), 999),
            Err(TransactionError::Malformed)
        );
        assert_eq!(open(&key, "", 999), Err(TransactionError::Malformed));
    }

    #[test]
    fn only_local_paths_are_returned_to() {
        for ok in ["/", "/@andrewbrown", "/@a/status/1?after=x"] {
            assert_eq!(local_path(Some(ok)), ok);
        }
        for bad in [
            "//evil.example",
            "https://evil.example/",
            "/\\evil.example",
            "evil",
            "",
            "/a\nb",
            "/é",
            "/a b",
        ] {
            assert_eq!(local_path(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local_path(None), "/");
    }
}
