//! Write rate limits: per client address (X-Forwarded-For only through trusted proxies) and per
//! author; `429 ["rate_limited"]` with `Retry-After`; Mastodon's X-RateLimit headers; a refused
//! write writes nothing.

use std::net::SocketAddr;

use api::rate_limit::WriteLimits;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Reply, TestApp};

fn limits(per_address: Option<&str>, per_author: Option<&str>, hops: usize) -> WriteLimits {
    WriteLimits {
        per_address: per_address.map(|r| r.parse().unwrap()),
        per_author: per_author.map(|r| r.parse().unwrap()),
        trust_proxy_hops: hops,
    }
}

/// A create from `peer`, with an `X-Forwarded-For` when given.
async fn create_from(
    app: &TestApp,
    peer: &str,
    forwarded_for: Option<&str>,
    handle: &str,
) -> Reply {
    let body = json!({"message": "limited?", "ttl": "1-day", "user_handle": handle});
    let mut request =
        Request::post("/api/activities").header(header::CONTENT_TYPE, "application/json");
    if let Some(chain) = forwarded_for {
        request = request.header("x-forwarded-for", chain);
    }
    let mut request = request.body(Body::from(body.to_string())).unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    app.send(request).await
}

/// `reply` is `429 ["rate_limited"]` with a `Retry-After` (seconds) within `retry`.
fn assert_rate_limited(reply: &Reply, retry: std::ops::RangeInclusive<u64>) {
    assert_eq!(
        (reply.status, reply.codes()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            vec!["rate_limited".to_owned()]
        )
    );
    let after: u64 = header(reply, "retry-after").parse().unwrap();
    assert!(
        retry.contains(&after),
        "Retry-After {after} not in {retry:?}"
    );
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

#[tokio::test]
async fn a_client_over_its_allowance_is_429_with_retry_after_and_nothing_is_written() {
    let app = TestApp::with_write_limits(limits(Some("2/1h"), None, 0)).await;
    let first = create_from(&app, "192.0.2.1:1000", None, "bayko").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(header(&first, "x-ratelimit-limit"), "2");
    assert_eq!(header(&first, "x-ratelimit-remaining"), "1");
    let reset = chrono::DateTime::parse_from_rfc3339(header(&first, "x-ratelimit-reset")).unwrap();
    assert!(reset > chrono::Utc::now(), "resets in the future");
    // A reply spends the same allowance as a create.
    let parent = first.json()["uuid"].as_str().unwrap().to_owned();
    let mut reply = Request::post(format!("/api/activities/{parent}/reply"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"message": "re", "user_handle": "bayko"}).to_string(),
        ))
        .unwrap();
    reply
        .extensions_mut()
        .insert(ConnectInfo("192.0.2.1:1001".parse::<SocketAddr>().unwrap()));
    let reply = app.send(reply).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(header(&reply, "x-ratelimit-remaining"), "0");

    let before = app.count_activities().await;
    let refused = create_from(&app, "192.0.2.1:1002", None, "bayko").await;
    // One write refills in 30 minutes, counted from the first.
    assert_rate_limited(&refused, 1_790..=1_800);
    assert_eq!(header(&refused, "x-ratelimit-remaining"), "0");
    assert_eq!(
        app.count_activities().await,
        before,
        "refused: nothing written"
    );

    let elsewhere = create_from(&app, "198.51.100.7:1000", None, "bayko").await;
    assert_eq!(
        elsewhere.status,
        StatusCode::OK,
        "another address has its own allowance"
    );
}

#[tokio::test]
async fn forwarded_for_counts_only_through_trusted_proxies() {
    // Without trusted proxies, a forged X-Forwarded-For buys no new allowance.
    let app = TestApp::with_write_limits(limits(Some("1/1h"), None, 0)).await;
    let ok = create_from(&app, "10.0.0.5:1", Some("203.0.113.1"), "bayko").await;
    assert_eq!(ok.status, StatusCode::OK);
    let forged = create_from(&app, "10.0.0.5:2", Some("203.0.113.2"), "bayko").await;
    assert_eq!(forged.status, StatusCode::TOO_MANY_REQUESTS);

    // Behind one trusted proxy, clients are told apart by the address it appended, and a
    // client's own entry before it changes nothing.
    let app = TestApp::with_write_limits(limits(Some("1/1h"), None, 1)).await;
    let one = create_from(&app, "10.0.0.5:1", Some("203.0.113.1"), "bayko").await;
    assert_eq!(one.status, StatusCode::OK);
    let two = create_from(&app, "10.0.0.5:2", Some("203.0.113.2"), "bayko").await;
    assert_eq!(
        two.status,
        StatusCode::OK,
        "another client behind the proxy"
    );
    let again = create_from(&app, "10.0.0.5:3", Some("6.6.6.6, 203.0.113.1"), "bayko").await;
    assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS);
    // Entries with ports are the same clients; an IPv6 one in brackets is its own.
    let with_port = create_from(&app, "10.0.0.5:4", Some("203.0.113.2:4711"), "bayko").await;
    assert_eq!(with_port.status, StatusCode::TOO_MANY_REQUESTS);
    let v6 = create_from(&app, "10.0.0.5:5", Some("[2001:db8::7]:443"), "bayko").await;
    assert_eq!(v6.status, StatusCode::OK);
    // An entry that is no address is refused, not counted as the proxy: writes nothing.
    let before = app.count_activities().await;
    for garbage in ["unknown", "203.0.113.9:http", "[2001:db8::7"] {
        let refused = create_from(&app, "10.0.0.5:6", Some(garbage), "bayko").await;
        assert_eq!(
            (refused.status, refused.codes()),
            (
                StatusCode::BAD_REQUEST,
                vec!["forwarded_for_invalid".to_owned()]
            ),
            "{garbage}"
        );
    }
    assert_eq!(app.count_activities().await, before);
}

#[tokio::test]
async fn an_author_over_their_allowance_is_429_from_any_address_and_the_headers_show_the_tighter_limit(
) {
    let app = TestApp::with_write_limits(limits(Some("100/1h"), Some("1/1h"), 0)).await;
    let first = create_from(&app, "192.0.2.1:1", None, "bayko").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        (
            header(&first, "x-ratelimit-limit"),
            header(&first, "x-ratelimit-remaining")
        ),
        ("1", "0"),
        "the author's allowance is the tighter one"
    );
    let before = app.count_activities().await;
    let refused = create_from(&app, "198.51.100.7:1", None, "BAYKO").await;
    // 1/1h refills in an hour.
    assert_rate_limited(&refused, 3_590..=3_600);
    assert_eq!(
        (
            header(&refused, "x-ratelimit-limit"),
            header(&refused, "x-ratelimit-remaining")
        ),
        ("1", "0"),
        "the refusing limit, the author's, is the one reported"
    );
    assert_eq!(app.count_activities().await, before);
    let other = create_from(&app, "198.51.100.7:2", None, "andrewbrown").await;
    assert_eq!(
        other.status,
        StatusCode::OK,
        "another author is not held back"
    );
    assert_eq!(header(&other, "x-ratelimit-limit"), "1");
}

#[tokio::test]
async fn the_profile_update_is_a_limited_write_and_reads_are_not() {
    let app = TestApp::with_write_limits(limits(Some("1/1h"), None, 0)).await;
    let update = |display_name: &str| {
        let mut request = Request::put("/api/profile/update")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"user_handle": "bayko", "display_name": display_name, "bio": "b"})
                    .to_string(),
            ))
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo("192.0.2.9:1".parse::<SocketAddr>().unwrap()));
        request
    };
    assert_eq!(app.send(update("First")).await.status, StatusCode::OK);
    let refused = app.send(update("Second")).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let page: Value = app.get("/api/activities/@bayko").await.json();
    assert_eq!(
        page["profile"]["display_name"], "First",
        "the refused update changed nothing"
    );
    for _ in 0..5 {
        let read = app.home("").await;
        assert_eq!(read.status, StatusCode::OK);
        assert!(read.headers.get("x-ratelimit-remaining").is_none());
    }
}

#[tokio::test]
async fn with_limits_off_writes_are_never_refused() {
    let app = TestApp::with_write_limits(WriteLimits::OFF).await;
    for _ in 0..20 {
        let reply = create_from(&app, "192.0.2.1:1", None, "bayko").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.headers.get("x-ratelimit-limit").is_none());
    }
}
