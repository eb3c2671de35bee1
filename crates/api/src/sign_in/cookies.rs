//! The two cookies of sign-in, read from `Cookie` and written as `Set-Cookie` by hand (their
//! values are base64url, which needs no encoding; no cookie crate is in the tree for this).
//! Both are `__Host-` cookies: `Secure`, `Path=/`, no `Domain`, so only this origin, over a
//! secure context, can set them (browsers count `http://127.0.0.1` and `localhost` as secure).

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};

/// The session: the only credential the browser holds.
pub const SESSION: &str = "__Host-cruddur_session";
/// The login transaction (state, nonce, PKCE verifier), between "Sign in" and the callback.
pub const SIGN_IN: &str = "__Host-cruddur_signin";

/// The value of cookie `name`, from the first `Cookie` header naming it.
pub fn read<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// `Set-Cookie` for `name` = `value`, kept `max_age`. `SameSite=Lax`, not `Strict`: the
/// callback is a navigation from the managed login (another site), and a `Strict` cookie is
/// not sent with it (measured in Chromium).
pub fn set(name: &str, value: &str, max_age: Duration) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
        max_age.as_secs()
    ))
    .expect("cookie names and base64url values are header-safe")
}

/// `Set-Cookie` that deletes `name`.
pub fn clear(name: &str) -> HeaderValue {
    set(name, "", Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_is_found_among_others_and_in_any_cookie_header() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-cruddur_session=abc-_; c=3"),
        );
        assert_eq!(read(&headers, SESSION), Some("abc-_"));
        assert_eq!(read(&headers, "b"), Some("2"));
        assert_eq!(read(&headers, SIGN_IN), None);
        // A prefix of another name is not that name.
        let mut tricky = HeaderMap::new();
        tricky.insert(
            header::COOKIE,
            HeaderValue::from_static("x__Host-cruddur_session=evil; __Host-cruddur_session="),
        );
        assert_eq!(read(&tricky, SESSION), None);
    }

    #[test]
    fn cookies_are_host_only_secure_http_only_and_lax() {
        let value = set(SESSION, "abc", Duration::from_secs(60));
        assert_eq!(
            value,
            "__Host-cruddur_session=abc; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        assert_eq!(
            clear(SIGN_IN),
            "__Host-cruddur_signin=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }
}
