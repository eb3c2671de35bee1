//! Where the service may fetch from (a user pool's keys, this machine's public address, an AWS
//! endpoint): https anywhere, plain http only to this machine's loopback, since anyone on the
//! path of a plain-http fetch can answer in the real server's place. A redirect obeys the same
//! rule and never leaves https for plain http.

use url::{Host, Url};

/// Why a URL may not be fetched. Messages name the origin only (never a path or credentials).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InsecureUrl {
    #[error("`{0}` is not a URL")]
    Unparsable(String),
    #[error(
        "{0} is neither https nor plain http to a loopback address (127.0.0.1, [::1], localhost)"
    )]
    PlainHttp(String),
    #[error("{0} redirects from https to plain http ({1})")]
    Downgrade(String, String),
    #[error("{0}: more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects(String),
}

/// Most redirects one fetch follows.
pub const MAX_REDIRECTS: usize = 5;

/// Whether `url` names this machine: a loopback address or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// `url` parsed and checked with [`check`].
pub fn parse(raw: &str) -> Result<Url, InsecureUrl> {
    let url = Url::parse(raw).map_err(|_| InsecureUrl::Unparsable(origin_of_text(raw)))?;
    check(&url)?;
    Ok(url)
}

/// https, or plain http to loopback.
pub fn check(url: &Url) -> Result<(), InsecureUrl> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(InsecureUrl::PlainHttp(url.origin().ascii_serialization())),
    }
}

/// A redirect from `from` to `to`: `to` obeys [`check`], and https never leads to plain http
/// (not even to loopback: the answer would no longer be the one https vouched for).
pub fn check_redirect(from: &Url, to: &Url) -> Result<(), InsecureUrl> {
    if from.scheme() == "https" && to.scheme() != "https" {
        return Err(InsecureUrl::Downgrade(
            from.origin().ascii_serialization(),
            to.origin().ascii_serialization(),
        ));
    }
    check(to)
}

/// Whether to follow a redirect to `next` after the URLs `previous` (the first one asked for,
/// then each redirect so far): [`check_redirect`] from the last, at most [`MAX_REDIRECTS`].
/// What an HTTP client's redirect policy asks.
pub fn check_hop(previous: &[Url], next: &Url) -> Result<(), InsecureUrl> {
    let Some(from) = previous.last() else {
        return check(next);
    };
    if previous.len() > MAX_REDIRECTS {
        return Err(InsecureUrl::TooManyRedirects(
            previous[0].origin().ascii_serialization(),
        ));
    }
    check_redirect(from, next)
}

/// The part of unparsable text before any path, without credentials, for messages.
fn origin_of_text(raw: &str) -> String {
    let after_scheme = raw.split_once("://").map_or(raw, |(_, rest)| rest);
    let authority = after_scheme
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
        .chars()
        .take(100)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    #[test]
    fn https_anywhere_plain_http_only_on_loopback() {
        for ok in [
            "https://cognito-idp.us-east-1.amazonaws.com/x",
            "http://127.0.0.1:5000/x",
            "http://127.8.9.10/",
            "http://[::1]:8/",
            "http://LOCALHOST:9/",
        ] {
            assert_eq!(parse(ok).map(|_| ()), Ok(()), "{ok}");
        }
        for (bad, origin) in [
            (
                "http://checkip.amazonaws.com/",
                "http://checkip.amazonaws.com",
            ),
            ("http://10.0.0.1:4566/", "http://10.0.0.1:4566"),
            (
                "http://localhost.evil.example/",
                "http://localhost.evil.example",
            ),
            ("http://u:hunter2@example.com/", "http://example.com"),
            ("ftp://127.0.0.1/", "ftp://127.0.0.1"),
        ] {
            assert_eq!(
                parse(bad),
                Err(InsecureUrl::PlainHttp(origin.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            parse("not a url"),
            Err(InsecureUrl::Unparsable("not a url".to_owned()))
        );
        assert_eq!(
            parse("//u:hunter2@host/x"),
            Err(InsecureUrl::Unparsable("host".to_owned()))
        );
    }

    #[test]
    fn a_redirect_never_leaves_https_for_plain_http() {
        let https = url("https://a.example/x");
        assert_eq!(check_redirect(&https, &url("https://b.example/y")), Ok(()));
        assert_eq!(
            check_redirect(&https, &url("http://127.0.0.1:1/y")),
            Err(InsecureUrl::Downgrade(
                "https://a.example".into(),
                "http://127.0.0.1:1".into()
            ))
        );
        let local = url("http://127.0.0.1:1/");
        assert_eq!(check_redirect(&local, &url("http://127.0.0.1:2/")), Ok(()));
        assert_eq!(check_redirect(&local, &url("https://b.example/")), Ok(()));
        assert_eq!(
            check_redirect(&local, &url("http://b.example/")),
            Err(InsecureUrl::PlainHttp("http://b.example".into()))
        );
    }

    #[test]
    fn a_fetch_follows_at_most_five_redirects_each_checked() {
        let hops: Vec<Url> = (0..=MAX_REDIRECTS)
            .map(|i| url(&format!("https://h{i}.example/")))
            .collect();
        let next = url("https://next.example/");
        assert_eq!(check_hop(&hops[..MAX_REDIRECTS], &next), Ok(()));
        assert_eq!(
            check_hop(&hops, &next),
            Err(InsecureUrl::TooManyRedirects("https://h0.example".into()))
        );
        assert_eq!(
            check_hop(&hops[..1], &url("http://127.0.0.1/")),
            Err(InsecureUrl::Downgrade(
                "https://h0.example".into(),
                "http://127.0.0.1".into()
            ))
        );
    }
}
