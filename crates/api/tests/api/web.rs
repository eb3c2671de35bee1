//! The web page, server side: what the HTML says with JavaScript off, its headers, escaping,
//! paging links, embedded assets and their caching, error pages. Its script is tested in
//! Chromium (tests/browser/web_pages.mjs, run by script/browser).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};

use crate::helpers::{Reply, TestApp};

/// What the page's policy must say, written out here (not read from the constant under test).
const EXPECTED_CSP: [(&str, &str); 8] = [
    ("base-uri", "'none'"),
    ("connect-src", "'self'"),
    ("default-src", "'none'"),
    ("form-action", "'none'"),
    ("frame-ancestors", "'none'"),
    ("img-src", "'self'"),
    ("script-src", "'self'"),
    ("style-src", "'self'"),
];

/// A Content-Security-Policy header as directive → sources.
fn csp_directives(policy: &str) -> BTreeMap<String, String> {
    policy
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let (name, sources) = d.split_once(' ').unwrap_or((d, ""));
            (name.to_owned(), sources.trim().to_owned())
        })
        .collect()
}

/// The user page's crud count: the text of its `<p class="stats">`, exactly.
fn stats(page: &str) -> &str {
    page.split_once("<p class=\"stats\">")
        .and_then(|(_, rest)| rest.split_once("</p>"))
        .map(|(count, _)| count)
        .unwrap_or_else(|| panic!("no count on the page: {page}"))
}

fn html(reply: &Reply) -> String {
    String::from_utf8(reply.body.clone()).unwrap()
}

/// The `href`/`src` of the page's asset with this extension.
fn asset_path(page: &str, extension: &str) -> String {
    page.split('"')
        .find(|piece| piece.starts_with("/assets/app.") && piece.ends_with(extension))
        .expect("the page links its assets")
        .to_owned()
}

#[tokio::test]
async fn the_home_page_shows_the_seeded_feed_as_html_with_a_strict_policy() {
    let app = TestApp::seeded().await;
    let reply = app.get("/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let expected: BTreeMap<String, String> = EXPECTED_CSP
        .iter()
        .map(|(name, sources)| ((*name).to_owned(), (*sources).to_owned()))
        .collect();
    let policy = reply.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert_eq!(policy, api::web::CONTENT_SECURITY_POLICY);
    assert_eq!(csp_directives(policy), expected, "{policy}");
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"));
    // Every page carries it, error pages included.
    for path in ["/@andrewbrown", "/@nobody", "/?before=not-a-uuid"] {
        let other = app.get(path).await;
        let policy = other.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert_eq!(csp_directives(policy), expected, "{path}: {policy}");
    }
    assert_eq!(reply.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let page = html(&reply);
    assert!(
        page.starts_with("<!DOCTYPE html><html lang=\"en\">"),
        "{page}"
    );
    assert!(page.contains("This was imported as seed data!"));
    assert!(page.contains("href=\"/@andrewbrown\""));
    // Dev mode: the compose form, and an author picker over the seeded users.
    assert!(page.contains("<form id=\"compose\""));
    assert!(page.contains("<option value=\"bayko\">"));
    for ttl in domain::Ttl::ALL {
        assert!(
            page.contains(&format!("<option value=\"{}\"", ttl.as_str())),
            "{ttl}"
        );
    }
    assert!(!page.contains(" style=") && !page.contains(" onclick="));
}

#[tokio::test]
async fn user_text_is_escaped_never_markup() {
    let app = TestApp::seeded().await;
    let created = app
        .create("<script>alert(1)</script> & \"quotes\"", "1-day", "bayko")
        .await;
    assert_eq!(created.status, StatusCode::OK);
    app.sql(
        "UPDATE users SET display_name = '<img src=x onerror=alert(2)>' WHERE handle = 'bayko'",
    )
    .await;
    for path in ["/", "/@bayko"] {
        let page = html(&app.get(path).await);
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"),
            "{path}: {page}"
        );
        assert!(!page.contains("<script>alert(1)"), "{path}");
        assert!(!page.contains("<img src=x"), "{path}");
        assert!(
            page.contains("&lt;img src=x onerror=alert(2)&gt;"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn assets_are_embedded_under_hashed_names_and_cached_for_good() {
    let app = TestApp::seeded().await;
    let page = html(&app.get("/").await);
    for (extension, content_type) in [
        (".js", "text/javascript; charset=utf-8"),
        (".css", "text/css; charset=utf-8"),
    ] {
        let path = asset_path(&page, extension);
        let reply = app.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], content_type);
        assert_eq!(
            reply.headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let etag = reply.headers[header::ETAG].to_str().unwrap().to_owned();
        let again = app
            .send(
                Request::get(&path)
                    .header(header::IF_NONE_MATCH, &etag)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.body.is_empty());
    }
    // Errors are the API's JSON, like every other answer that is not a page.
    for (path, status, code) in [
        (
            "/assets/app.0000000000000000.js",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("/assets/%FF", StatusCode::BAD_REQUEST, "invalid_path"),
    ] {
        let missing = app.get(path).await;
        assert_eq!(
            (missing.status, missing.codes()),
            (status, vec![code.to_owned()]),
            "{path}"
        );
        assert_eq!(
            missing.headers[header::CONTENT_TYPE],
            "application/json",
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_home_page_and_its_assets_are_under_50_kb_before_data() {
    let app = TestApp::empty().await;
    let reply = app.get("/").await;
    assert_eq!(reply.status, StatusCode::OK);
    let page = html(&reply);
    assert!(page.contains("No cruds here yet."));
    let js = app.get(&asset_path(&page, ".js")).await.body.len();
    let css = app.get(&asset_path(&page, ".css")).await.body.len();
    let total = page.len() + js + css;
    assert!(
        total < 50 * 1024,
        "{} + {js} + {css} = {total} bytes",
        page.len()
    );
}

#[tokio::test]
async fn a_full_last_page_links_to_no_empty_one() {
    let app = TestApp::seeded().await;
    for i in 0..19 {
        app.create(&format!("crud {i}"), "1-day", "bayko").await;
    }
    let page = html(&app.get("/").await);
    assert!(page.contains(">crud 0<") && page.contains("This was imported as seed data!"));
    assert!(!page.contains("?before="), "20 cruds fit one page: {page}");
}

#[tokio::test]
async fn older_cruds_page_with_the_apis_keyset_cursor() {
    let app = TestApp::seeded().await;
    for i in 0..20 {
        assert_eq!(
            app.create(&format!("crud {i}"), "1-day", "bayko")
                .await
                .status,
            StatusCode::OK
        );
    }
    let feed = app.home("").await.json();
    let last = feed.as_array().unwrap()[19]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = html(&app.get("/").await);
    let link = format!("href=\"/?before={last}\"");
    assert!(page.contains(&link), "{page}");
    let older = html(&app.get(&format!("/?before={last}")).await);
    assert!(older.contains("This was imported as seed data!"));
    assert!(
        !older.contains(">crud 0<"),
        "the cursor's own crud is not repeated"
    );
    assert!(
        !older.contains("?before="),
        "the last page links no further"
    );

    let bad = app.get("/?before=not-a-uuid").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(html(&bad).contains("Bad link"));
}

#[tokio::test]
async fn a_users_page_and_a_cruds_page_with_its_replies() {
    let app = TestApp::seeded().await;
    let user = app.get("/@andrewbrown").await;
    assert_eq!(user.status, StatusCode::OK);
    let page = html(&user);
    assert!(
        page.contains("<h1>Andrew Brown <span class=\"handle\">@andrewbrown</span></h1>"),
        "{page}"
    );
    assert_eq!(stats(&page), "1 crud");

    let seed = app.home("").await.json()[0]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/@andrewbrown/status/{seed}");
    for i in 0..21 {
        if i == 20 {
            let full = html(&app.get(&path).await);
            assert!(full.contains("reply 19"));
            assert!(!full.contains("?after="), "20 replies fit one page");
        }
        let reply = app.reply(&seed, &format!("reply {i:02}"), "bayko").await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let status = html(&app.get(&path).await);
    assert!(status.contains("This was imported as seed data!"));
    assert!(status.contains("reply 00") && status.contains("reply 19"));
    assert!(!status.contains("reply 20"));
    let more = status
        .split("href=\"")
        .find(|piece| piece.starts_with(&format!("{path}?after=")))
        .expect("a link to more replies")
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let rest = html(&app.get(&more).await);
    assert!(rest.contains("reply 20") && !rest.contains("reply 19"));
    // Replies are not counted; the plural follows the number.
    assert_eq!(
        app.reply(&seed, "his own reply", "andrewbrown")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(stats(&html(&app.get("/@andrewbrown").await)), "1 crud");
    assert_eq!(
        app.create("his second crud", "1-day", "andrewbrown")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(stats(&html(&app.get("/@andrewbrown").await)), "2 cruds");
}

#[tokio::test]
async fn missing_users_and_cruds_get_an_html_404() {
    let app = TestApp::seeded().await;
    for path in [
        "/@nobody".to_owned(),
        format!("/@andrewbrown/status/{}", uuid::Uuid::new_v4()),
        "/@andrewbrown/status/not-a-uuid".to_owned(),
    ] {
        let reply = app.get(&path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "text/html; charset=utf-8",
            "{path}"
        );
        assert!(html(&reply).contains("<h1>Not found</h1>"), "{path}");
    }
}
