//! Sign-in on the page, server side: what the page offers, where "Sign in" sends the browser, the
//! callback against a managed login's token endpoint served here on 127.0.0.1 (answering tokens
//! signed by the test pool's key, or refusals, or a redirect), and writes authenticated by a
//! session. The whole flow against a certified OpenID provider in Chromium is
//! `tests/browser/sign_in.mjs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use db::web_sessions::{Lifetimes, Tokens};
use serde_json::json;
use sha2::{Digest, Sha256};
use test_db::cognito::{access_claims, issuer, keys, now_secs, ANDREW_SUB, CLIENT_ID};

use crate::cognito_support::{cognito_app, cognito_app_with, JwksServer};
use crate::helpers::{Reply, TestApp};

const MANAGED_LOGIN: &str = "http://127.0.0.2:9";
const SITE: &str = "http://127.0.0.1:4567";
/// A well-formed session id (43 base64url characters).
const SESSION_ID: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

async fn with_sign_in() -> (JwksServer, TestApp) {
    with_managed_login(MANAGED_LOGIN).await
}

async fn with_managed_login(managed_login: &str) -> (JwksServer, TestApp) {
    let (current, _) = keys();
    let jwks = JwksServer::start(vec![current.jwk()]).await;
    let app = cognito_app_with(jwks.config(Duration::from_secs(3600)), |service| {
        service.sign_in = Some(
            api::sign_in::SignInConfig::new(
                managed_login,
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
    let sign_out = app
        .send(Request::post("/auth/sign-out").body(Body::empty()).unwrap())
        .await;
    assert_eq!(sign_out.status, StatusCode::NOT_FOUND);
    assert_eq!(sign_out.codes(), ["route_not_found"]);
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

/// What the token endpoint answers: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, String);

/// The managed login's token and revocation endpoints: the token endpoint answers what the test
/// set; every request is counted, and `/elsewhere` (a redirect's target) too.
#[derive(Clone, Default)]
struct ManagedLogin {
    answer: Arc<Mutex<Answer>>,
    token_calls: Arc<AtomicUsize>,
    revocations: Arc<AtomicUsize>,
    elsewhere: Arc<AtomicUsize>,
    origin: String,
}

impl ManagedLogin {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let login = Self {
            origin: format!("http://{}", listener.local_addr().unwrap()),
            ..Self::default()
        };
        let state = login.clone();
        let app = axum::Router::new()
            .route(
                "/oauth2/token",
                axum::routing::post(
                    |axum::extract::State(login): axum::extract::State<ManagedLogin>| async move {
                        login.token_calls.fetch_add(1, Ordering::SeqCst);
                        let (status, headers, body) = login.answer.lock().unwrap().clone();
                        let mut response = axum::response::Response::builder().status(status);
                        for (name, value) in headers {
                            response = response.header(name, value);
                        }
                        response.body(Body::from(body)).unwrap()
                    },
                ),
            )
            .route(
                "/oauth2/revoke",
                axum::routing::post(
                    |axum::extract::State(login): axum::extract::State<ManagedLogin>| async move {
                        login.revocations.fetch_add(1, Ordering::SeqCst);
                        StatusCode::OK
                    },
                ),
            )
            .route(
                "/elsewhere",
                axum::routing::any(
                    |axum::extract::State(login): axum::extract::State<ManagedLogin>| async move {
                        login.elsewhere.fetch_add(1, Ordering::SeqCst);
                        StatusCode::OK
                    },
                ),
            )
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        login
    }

    fn answer(&self, status: u16, headers: Vec<(&'static str, String)>, body: String) {
        *self.answer.lock().unwrap() = (status, headers, body);
    }

    /// A token answer: an access token of the pool for andrewbrown and an ID token carrying
    /// `nonce`, with a refresh token.
    fn answer_tokens(&self, nonce: &str) {
        let key = &keys().0;
        let id = json!({
            "sub": ANDREW_SUB, "iss": issuer(), "aud": CLIENT_ID, "token_use": "id",
            "nonce": nonce, "iat": now_secs(), "exp": now_secs() + 3600,
        });
        let body = json!({
            "access_token": key.sign(&access_claims(ANDREW_SUB), None),
            "id_token": key.sign(&id, None),
            "refresh_token": "refresh-1",
            "token_type": "Bearer",
            "expires_in": 3600,
        });
        self.answer(
            200,
            vec![("content-type", "application/json".to_owned())],
            body.to_string(),
        );
    }

    fn answer_error(&self, error: &str) {
        self.answer(
            400,
            vec![("content-type", "application/json".to_owned())],
            json!({ "error": error }).to_string(),
        );
    }
}

/// A begun sign-in: the transaction cookie's value, and the state and nonce sent.
struct Begun {
    cookie: String,
    state: String,
    nonce: String,
}

async fn begin(app: &TestApp) -> Begun {
    let start = app.get("/auth/sign-in").await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let set = start.headers[header::SET_COOKIE].to_str().unwrap();
    let cookie = set
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("__Host-cruddur_signin=")
        .to_owned();
    let location = url::Url::parse(start.headers[header::LOCATION].to_str().unwrap()).unwrap();
    let query = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    Begun {
        cookie,
        state: query("state"),
        nonce: query("nonce"),
    }
}

async fn callback(app: &TestApp, begun: &Begun, state: &str, session: Option<&str>) -> Reply {
    let mut cookies = format!("__Host-cruddur_signin={}", begun.cookie);
    if let Some(session) = session {
        cookies.push_str(&format!("; __Host-cruddur_session={session}"));
    }
    app.send(
        Request::get(format!("/auth/callback?code=the-code&state={state}"))
            .header(header::COOKIE, cookies)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn sessions(app: &TestApp) -> i64 {
    app.db
        .client()
        .await
        .query_one("SELECT count(*) FROM web_sessions", &[])
        .await
        .unwrap()
        .get(0)
}

/// The session cookie a callback set, if it set one.
fn session_set(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("__Host-cruddur_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .filter(|v| !v.is_empty())
}

fn page_says(reply: &Reply, status: StatusCode, sentence: &str) {
    let body = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, status, "{body}");
    assert!(body.contains(sentence), "{body}");
    assert!(
        session_set(reply).is_none(),
        "no session cookie on a refusal"
    );
    let cleared = reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.to_str().unwrap().starts_with("__Host-cruddur_signin=; "));
    assert!(cleared, "the transaction cookie is cleared");
}

#[tokio::test]
async fn a_callback_with_verified_tokens_opens_a_session_and_a_new_sign_in_replaces_it() {
    let login = ManagedLogin::start().await;
    let (_jwks, app) = with_managed_login(&login.origin).await;
    let begun = begin(&app).await;
    login.answer_tokens(&begun.nonce);
    let first = callback(&app, &begun, &begun.state, None).await;
    assert_eq!(
        first.status,
        StatusCode::SEE_OTHER,
        "{:?}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(first.headers[header::LOCATION], "/");
    let first_id = session_set(&first).expect("a session cookie");
    assert_eq!(sessions(&app).await, 1);
    let page = app
        .send(
            Request::get("/")
                .header(header::COOKIE, format!("__Host-cruddur_session={first_id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(String::from_utf8(page.body)
        .unwrap()
        .contains("Signed in as"));
    assert_eq!(page.headers[header::CACHE_CONTROL], "private, no-store");

    // Signing in again over it: a new id; the old row is gone and its refresh token revoked.
    let again = begin(&app).await;
    login.answer_tokens(&again.nonce);
    let second = callback(&app, &again, &again.state, Some(&first_id)).await;
    let second_id = session_set(&second).expect("a new session cookie");
    assert_ne!(second_id, first_id);
    assert_eq!(sessions(&app).await, 1);
    assert_eq!(login.revocations.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn each_failed_callback_is_a_page_that_says_why_and_opens_no_session() {
    let login = ManagedLogin::start().await;
    let (_jwks, app) = with_managed_login(&login.origin).await;

    // Another state: the token endpoint is never called.
    let begun = begin(&app).await;
    login.answer_tokens(&begun.nonce);
    let tampered = callback(&app, &begun, "another-state", None).await;
    page_says(
        &tampered,
        StatusCode::BAD_REQUEST,
        "does not belong to the sign-in begun",
    );
    assert_eq!(login.token_calls.load(Ordering::SeqCst), 0);

    // An ID token for another sign-in's nonce.
    let begun = begin(&app).await;
    login.answer_tokens("another-nonce");
    let wrong_nonce = callback(&app, &begun, &begun.state, None).await;
    page_says(
        &wrong_nonce,
        StatusCode::BAD_REQUEST,
        "did not pass the server",
    );

    // The code refused (replayed, or its PKCE verifier wrong).
    let begun = begin(&app).await;
    login.answer_error("invalid_grant");
    let refused = callback(&app, &begun, &begun.state, None).await;
    page_says(
        &refused,
        StatusCode::BAD_REQUEST,
        "one-time code was refused",
    );

    // The app client refused: the server's settings, not the person's doing.
    let begun = begin(&app).await;
    login.answer_error("invalid_client");
    let misconfigured = callback(&app, &begun, &begun.state, None).await;
    page_says(
        &misconfigured,
        StatusCode::SERVICE_UNAVAILABLE,
        "is not answering",
    );

    // A redirect from the token endpoint is not followed (the code and verifier stay here).
    let begun = begin(&app).await;
    login.answer(
        302,
        vec![("location", format!("{}/elsewhere", login.origin))],
        String::new(),
    );
    let redirected = callback(&app, &begun, &begun.state, None).await;
    page_says(
        &redirected,
        StatusCode::SERVICE_UNAVAILABLE,
        "is not answering",
    );
    assert_eq!(
        login.elsewhere.load(Ordering::SeqCst),
        0,
        "the redirect was followed"
    );

    assert_eq!(sessions(&app).await, 0);
}

/// A write from the page with `cookie`.
async fn write_as(app: &TestApp, cookie: &str) -> Reply {
    post_with(
        app,
        &[("cookie", cookie), ("sec-fetch-site", "same-origin")],
    )
    .await
}

#[tokio::test]
async fn only_a_refused_refresh_token_ends_a_session_and_a_renewed_one_is_used() {
    let login = ManagedLogin::start().await;
    let (_jwks, app) = with_managed_login(&login.origin).await;
    let begun = begin(&app).await;
    login.answer_tokens(&begun.nonce);
    let id = session_set(&callback(&app, &begun, &begun.state, None).await).unwrap();
    let cookie = format!("__Host-cruddur_session={id}");
    let due = "UPDATE web_sessions SET refresh_after = now() - interval '1 second'";

    // Due for renewal: the refresh grant is used and the write goes through.
    app.sql(due).await;
    let calls = login.token_calls.load(Ordering::SeqCst);
    login.answer_tokens("unused");
    assert_eq!(write_as(&app, &cookie).await.status, StatusCode::OK);
    assert_eq!(login.token_calls.load(Ordering::SeqCst), calls + 1);

    // The app client refused: 503, and the session lives on.
    app.sql(due).await;
    login.answer_error("invalid_client");
    let refused = write_as(&app, &cookie).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.codes(), ["auth_unavailable"]);
    assert_eq!(sessions(&app).await, 1);

    // The refresh token revoked or expired: the session ends.
    login.answer_error("invalid_grant");
    let ended = write_as(&app, &cookie).await;
    assert_eq!(ended.status, StatusCode::UNAUTHORIZED);
    assert_eq!(ended.codes(), ["session_ended"]);
    assert_eq!(sessions(&app).await, 0);
}
