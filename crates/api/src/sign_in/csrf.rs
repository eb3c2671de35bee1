//! Cross-site request refusal for requests a cookie authenticates (a page write, sign-out): the
//! browser says where a request comes from in `Sec-Fetch-Site` (every current browser, on secure
//! contexts); without it, `Origin` must be this site's. A request with neither is refused: a
//! `fetch` POST and a form POST always carry `Origin`. The Bearer path needs none of this (a
//! token is never sent by the browser on its own).

use axum::http::HeaderMap;

/// Whether a request came from a page of `site_origin` (`https://cruddur.example`).
pub fn same_origin(headers: &HeaderMap, site_origin: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    headers
        .get(axum::http::header::ORIGIN)
        .is_some_and(|origin| origin.as_bytes() == site_origin.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    const SITE: &str = "https://cruddur.example";

    #[test]
    fn only_same_origin_requests_pass() {
        assert!(same_origin(
            &headers(&[("sec-fetch-site", "same-origin")]),
            SITE
        ));
        assert!(same_origin(&headers(&[("origin", SITE)]), SITE));
        for refused in [
            &[("sec-fetch-site", "cross-site")][..],
            &[("sec-fetch-site", "same-site")],
            &[("sec-fetch-site", "none")],
            // Sec-Fetch-Site wins over an Origin that would pass.
            &[("sec-fetch-site", "cross-site"), ("origin", SITE)],
            &[("origin", "https://evil.example")],
            &[("origin", "null")],
            &[("origin", "https://cruddur.example.evil.example")],
            &[],
        ] {
            assert!(!same_origin(&headers(refused), SITE), "{refused:?}");
        }
    }
}
