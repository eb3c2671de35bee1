//! Sign-in on the page, server side: what the page offers, where "Sign in" sends the browser,
//! and writes authenticated by a session (a row made here with a token signed by the test pool's
//! key). The whole flow against a real OpenID provider is `tests/browser/sign_in.mjs`.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use db::web_sessions::{Lifetimes, Tokens};
use sha2::{Digest, Sha256};
use test_db::cognito::{access_claims, keys, ANDREW_SUB};

use crate::cognito_support::{cognito_app, cognito_app_with, JwksServer};
use crate::helpers::{Reply, TestApp};

const MANAGED_LOGIN: &str = "http://127.0.0.2:9";
const SITE: &str = "http://127.0.0.1:4567";
/// A well-formed session id (43 base64url characters).
const SESSION_ID: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

async fn with_sign_in() -> (JwksServer, TestApp) {
    let (current, _) = keys();
    let jwks = JwksServer::start(vec![current.jwk()]).await;
    let app = cognito_app_with(jwks.config(Duration::from_secs(3600)), |service| {
        service.sign_in = Some(
            api::sign_in::SignInConfig::new(
                MANAGED_LOGIN,
                SITE,
                None,
                Lifetimes {
                    idle: Duration::from_secs(3600),
                    max: Duration::from_secs(7200),
                },
            )
            .unwrap(),
        );
    })
    .await;
    crate::helpers::wait_for(|| jwks.fetches() == 1).await;
    (jwks, app)
}

/// A live session for andrewbrown under [`SESSION_ID`], holding a valid access token.
async fn open_session(app: &TestApp) {
    let token = keys().0.sign(&access_claims(ANDREW_SUB), None);
    let user: uuid::Uuid = app
        .db
        .client()
        .await
        .query_one("SELECT uuid FROM users WHERE handle = 'andrewbrown'", &[])
        .await
        .unwrap()
        .get(0);
    db::web_sessions::open(
        app.db.pool(),
        &db::web_sessions::SessionKey(Sha256::digest(SESSION_ID.as_bytes()).into()),
        user,
        &Tokens {
            access_token: &token,
            access_valid_for: Duration::from_secs(3600),
            renew_after: Duration::from_secs(3300),
            refresh_token: None,
        },
        Lifetimes {
            idle: Duration::from_secs(3600),
            max: Duration::from_secs(7200),
        },
    )
    .await
    .unwrap();
}

async fn post_with(app: &TestApp, headers: &[(&str, &str)]) -> Reply {
    let mut request =
        Request::post("/api/activities").header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(
        request
            .body(Body::from(r#"{"message":"from the page","ttl":"1-day"}"#))
            .unwrap(),
    )
    .await
}

fn cookie() -> String {
    format!("__Host-cruddur_session={SESSION_ID}")
}

#[tokio::test]
async fn without_a_managed_login_there_are_no_sign_in_routes() {
    let (current, _) = keys();
    let jwks = JwksServer::start(vec![current.jwk()]).await;
    let app = cognito_app(jwks.config(Duration::from_secs(3600))).await;
    for path in ["/auth/sign-in", "/auth/callback"] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(reply.codes(), ["route_not_found"]);
    }
}

#[tokio::test]
async fn signed_out_the_page_offers_sign_in_and_lets_only_the_sign_out_form_out() {
    let (_jwks, app) = with_sign_in().await;
    let reply = app.get("/@andrewbrown").await;
    assert_eq!(reply.status, StatusCode::OK);
    let page = String::from_utf8(reply.body).unwrap();
    assert!(
        page.contains(r#"href="/auth/sign-in?return_to=%2F%40andrewbrown""#),
        "{page}"
    );
    assert!(!page.contains("id=\"compose\""));
    let policy = reply.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        policy.contains(&format!("form-action 'self' {MANAGED_LOGIN};")),
        "{policy}"
    );
    assert!(!policy.contains("form-action 'none'"), "{policy}");

    let start = app.get("/auth/sign-in?return_to=%2F%40andrewbrown").await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let location = start.headers[header::LOCATION].to_str().unwrap();
    assert!(
        location.starts_with(&format!("{MANAGED_LOGIN}/oauth2/authorize?")),
        "{location}"
    );
    assert!(
        location.contains("code_challenge_method=S256"),
        "{location}"
    );
    assert!(
        location.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A4567%2Fauth%2Fcallback"),
        "{location}"
    );
    assert_eq!(start.headers[header::CACHE_CONTROL], "no-store");
    let set = start.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.starts_with("__Host-cruddur_signin=v1.")
            && set.ends_with("; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=600"),
        "{set}"
    );
}

#[tokio::test]
async fn a_session_writes_as_its_user_only_from_the_page() {
    let (_jwks, app) = with_sign_in().await;
    open_session(&app).await;
    let page = String::from_utf8(
        app.send(
            Request::get("/")
                .header(header::COOKIE, cookie())
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .body,
    )
    .unwrap();
    assert!(page.contains("Signed in as"), "{page}");
    assert!(page.contains("id=\"compose\""));

    let before = app.count_activities().await;
    for cross in [
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "http://127.0.0.2:9")],
        vec![],
    ] {
        let mut headers = cross.clone();
        let value = cookie();
        headers.push(("cookie", &value));
        let refused = post_with(&app, &headers).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{cross:?}");
        assert_eq!(refused.codes(), ["cross_site_request"], "{cross:?}");
    }
    assert_eq!(
        app.count_activities().await,
        before,
        "nothing written cross-site"
    );

    let value = cookie();
    let taken = post_with(
        &app,
        &[("cookie", &value), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(taken.status, StatusCode::OK);
    assert_eq!(taken.json()["handle"], "andrewbrown");
    let by_origin = post_with(&app, &[("cookie", &value), ("origin", SITE)]).await;
    assert_eq!(by_origin.status, StatusCode::OK);
    assert_eq!(app.count_activities().await, before + 2);
}

#[tokio::test]
async fn a_cookie_naming_no_live_session_is_refused_and_cleared_and_a_bearer_token_is_judged_alone()
{
    let (_jwks, app) = with_sign_in().await;
    let value = cookie();
    let refused = post_with(
        &app,
        &[("cookie", &value), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.codes(), ["session_ended"]);

    let page = app
        .send(
            Request::get("/")
                .header(header::COOKIE, cookie())
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        page.headers[header::SET_COOKIE],
        "__Host-cruddur_session=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"
    );
    assert!(String::from_utf8(page.body)
        .unwrap()
        .contains("Your session has ended."));

    // The React app's path: a Bearer token decides, whatever cookie rides along, cross-site too.
    let token = keys().0.sign(&access_claims(ANDREW_SUB), None);
    let bearer = format!("Bearer {token}");
    let written = post_with(
        &app,
        &[
            ("cookie", &value),
            ("authorization", &bearer),
            ("sec-fetch-site", "cross-site"),
        ],
    )
    .await;
    assert_eq!(written.status, StatusCode::OK);
}
