//! Cognito mode: only the token's user writes. Tokens are signed here with generated keys and
//! checked against a JWKS served on 127.0.0.1.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use test_db::cognito::{access_claims, keys, now_secs, ANDREW_SUB};

use crate::cognito_support::{cognito_app, cognito_app_with_write_limits, JwksServer};
use crate::helpers::{Reply, TestApp};

/// Long enough that no test here waits for a refetch unless it means to.
const NO_REFETCH: Duration = Duration::from_secs(3600);

async fn send_with_token(
    app: &TestApp,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: &Value,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    app.send(request.body(Body::from(body.to_string())).unwrap())
        .await
}

async fn create_with(app: &TestApp, token: Option<&str>, body: &Value) -> Reply {
    send_with_token(app, "POST", "/api/activities", token, body).await
}

/// `reply` is `503 ["auth_unavailable"]`: the pool's keys could not be had.
fn assert_auth_unavailable(reply: &Reply) {
    assert_eq!(
        (reply.status, reply.codes()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            vec!["auth_unavailable".to_owned()]
        )
    );
}

fn crud() -> Value {
    json!({"message": "signed in", "ttl": "1-day"})
}

async fn started() -> (JwksServer, TestApp) {
    let (current, _) = keys();
    let jwks = JwksServer::start(vec![current.jwk()]).await;
    let app = cognito_app(jwks.config(NO_REFETCH)).await;
    // The service fetches the keys as it starts: the one fetch so far.
    crate::helpers::wait_for(|| jwks.fetches() == 1).await;
    (jwks, app)
}

#[tokio::test]
async fn a_valid_access_token_writes_as_its_user() {
    let (_jwks, app) = started().await;
    let token = keys().0.sign(&access_claims(ANDREW_SUB), None);
    let reply = create_with(&app, Some(&token), &crud()).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
    assert_eq!(reply.json()["handle"], "andrewbrown");
    let parent = reply.json()["uuid"].as_str().unwrap().to_owned();
    let replied = send_with_token(
        &app,
        "POST",
        &format!("/api/activities/{parent}/reply"),
        Some(&token),
        &json!({"message": "me again", "user_handle": "andrewbrown"}),
    )
    .await;
    assert_eq!(replied.status, StatusCode::OK);
    assert_eq!(replied.json()["handle"], "andrewbrown");
    // Reading stays public, whatever the header says.
    let feed = app.home("").await;
    assert_eq!(feed.status, StatusCode::OK);
}

/// Every way a token can be wrong; each must be refused with 401 and write nothing.
fn forged_tokens() -> Vec<(&'static str, Option<String>)> {
    let (current, next) = keys();
    let valid = current.sign(&access_claims(ANDREW_SUB), None);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = access_claims(ANDREW_SUB);
        change(&mut claims);
        current.sign(&claims, None)
    };
    let parts: Vec<&str> = valid.split('.').collect();
    let mut tampered_claims = access_claims("someone-else");
    tampered_claims["exp"] = json!(now_secs() + 7200);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(tampered_claims.to_string()),
        parts[2]
    );
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"key-a"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(current.kid.to_owned());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &access_claims(ANDREW_SUB),
        &EncodingKey::from_secret(&current.public_bytes()).unwrap(),
    )
    .unwrap();
    vec![
        ("no header", None),
        ("Bearer null", Some("null".to_owned())),
        ("garbage", Some("not.a.token".to_owned())),
        (
            "expired",
            Some(with(&|c| c["exp"] = json!(now_secs() - 120))),
        ),
        (
            "wrong iss",
            Some(with(&|c| {
                c["iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other")
            })),
        ),
        (
            "no iss",
            Some(with(&|c| {
                c.as_object_mut().unwrap().remove("iss");
            })),
        ),
        (
            "no exp",
            Some(with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "no token_use",
            Some(with(&|c| {
                c.as_object_mut().unwrap().remove("token_use");
            })),
        ),
        (
            "wrong client_id",
            Some(with(&|c| c["client_id"] = json!("another-client"))),
        ),
        ("id token", Some(with(&|c| c["token_use"] = json!("id")))),
        ("alg none", Some(alg_none)),
        ("HS256 with the public key as secret", Some(hs256)),
        (
            "unknown kid",
            Some(current.sign(&access_claims(ANDREW_SUB), Some("key-unknown"))),
        ),
        (
            "signed by a key the pool does not publish",
            Some(next.sign(&access_claims(ANDREW_SUB), Some("key-a"))),
        ),
        ("tampered payload", Some(tampered)),
    ]
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_401_and_write_nothing() {
    let (_jwks, app) = started().await;
    let before = app.count_activities().await;
    for (what, token) in forged_tokens() {
        let reply = create_with(&app, token.as_deref(), &crud()).await;
        assert_eq!(
            (reply.status, reply.codes()),
            (StatusCode::UNAUTHORIZED, vec!["unauthorized".to_owned()]),
            "{what}"
        );
        assert_eq!(reply.headers[header::WWW_AUTHENTICATE], "Bearer", "{what}");
        let profile = send_with_token(
            &app,
            "PUT",
            "/api/profile/update",
            token.as_deref(),
            &json!({"display_name": "Mallory"}),
        )
        .await;
        assert_eq!(profile.status, StatusCode::UNAUTHORIZED, "{what}: profile");
        // Reading routes stay public: a bad token there is simply anonymous.
        let mut read = Request::get("/api/activities/home");
        if let Some(token) = token.as_deref() {
            read = read.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let read = app.send(read.body(Body::empty()).unwrap()).await;
        assert_eq!(read.status, StatusCode::OK, "{what}: read");
    }
    assert_eq!(app.count_activities().await, before);
    let names = app.get("/api/users/@andrewbrown/short").await.json();
    assert_eq!(names["display_name"], "Andrew Brown");
}

#[tokio::test]
async fn naming_someone_else_is_403_and_a_sub_without_a_row_is_422() {
    let (_jwks, app) = started().await;
    let token = keys().0.sign(&access_claims(ANDREW_SUB), None);
    let mut as_bayko = crud();
    as_bayko["user_handle"] = json!("bayko");
    let reply = create_with(&app, Some(&token), &as_bayko).await;
    assert_eq!(
        (reply.status, reply.codes()),
        (StatusCode::FORBIDDEN, vec!["forbidden".to_owned()])
    );
    let stranger = keys().0.sign(&access_claims("no-such-sub"), None);
    let reply = create_with(&app, Some(&stranger), &crud()).await;
    assert_eq!(
        (reply.status, reply.codes()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["user_not_found".to_owned()]
        )
    );
    let mut as_self = crud();
    as_self["user_handle"] = json!("AndrewBrown");
    let reply = create_with(&app, Some(&token), &as_self).await;
    assert_eq!(reply.status, StatusCode::OK, "the own handle, in any case");
    assert_eq!(
        reply.json()["handle"],
        "andrewbrown",
        "written as the stored handle"
    );
}

#[tokio::test]
async fn the_profile_update_changes_only_the_tokens_user() {
    let (_jwks, app) = started().await;
    let token = keys().0.sign(&access_claims(ANDREW_SUB), None);
    let reply = send_with_token(
        &app,
        "PUT",
        "/api/profile/update",
        Some(&token),
        &json!({"display_name": "Andrew B.", "bio": "Cloud"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["handle"], "andrewbrown");
    assert_eq!(reply.json()["display_name"], "Andrew B.");
    let page = app.get("/api/activities/@andrewbrown").await.json();
    assert_eq!(page["profile"]["bio"], "Cloud");
    let other = send_with_token(
        &app,
        "POST",
        "/api/profile/update",
        Some(&token),
        &json!({"display_name": "Hijack", "user_handle": "bayko"}),
    )
    .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let bayko = app.get("/api/users/@bayko/short").await.json();
    assert_eq!(bayko["display_name"], "Andrew Bayko");
}

#[tokio::test]
async fn with_the_jwks_down_writes_are_503_reads_work_and_it_recovers_without_restart() {
    let (current, _) = keys();
    let jwks = JwksServer::start(vec![current.jwk()]).await;
    jwks.set_down(true);
    // Long enough that the writes below all fall inside one interval, even on a slow machine.
    let refresh = Duration::from_secs(2);
    let app = cognito_app(jwks.config(refresh)).await;
    // The service fetches the keys as it starts: the one fetch so far.
    crate::helpers::wait_for(|| jwks.fetches() == 1).await;
    let token = current.sign(&access_claims(ANDREW_SUB), None);
    let reply = create_with(&app, Some(&token), &crud()).await;
    assert_auth_unavailable(&reply);
    assert_eq!(app.home("").await.status, StatusCode::OK);
    // While it is down, writes do not hammer it: no fetch until the interval has passed.
    for _ in 0..5 {
        let reply = create_with(&app, Some(&token), &crud()).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(jwks.fetches(), 1, "only the failed start-up fetch");

    jwks.set_up_again();
    // The next attempt is allowed once the refresh interval has passed since the failed one.
    tokio::time::sleep(refresh + Duration::from_millis(100)).await;
    let reply = create_with(&app, Some(&token), &crud()).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
    assert_eq!(jwks.fetches(), 2, "one more fetch, after the interval");
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_without_restart() {
    let (current, next) = keys();
    let jwks = JwksServer::start(vec![current.jwk()]).await;
    let refresh = Duration::from_millis(300);
    let app = cognito_app(jwks.config(refresh)).await;
    // The service fetches the keys as it starts: the one fetch so far.
    crate::helpers::wait_for(|| jwks.fetches() == 1).await;
    jwks.set_keys(vec![current.jwk(), next.jwk()]);
    tokio::time::sleep(refresh + Duration::from_millis(100)).await;
    let token = next.sign(&access_claims(ANDREW_SUB), None);
    let reply = create_with(&app, Some(&token), &crud()).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.json());
    assert_eq!(
        jwks.fetches(),
        2,
        "the start-up fetch and one for the new kid"
    );
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_one_fetch_per_interval() {
    let (current, _) = keys();
    let jwks = JwksServer::start(vec![current.jwk()]).await;
    // The flood may begin before the service's start-up fetch has finished: either way, one
    // fetch in all. One address sends it all, which the
    // per-address write limit would cut off after 300; off here, to see the key cache alone.
    let app =
        cognito_app_with_write_limits(jwks.config(NO_REFETCH), api::rate_limit::WriteLimits::OFF)
            .await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let token = current.sign(&access_claims(ANDREW_SUB), Some(&format!("forged-{i}")));
        let router = app.router.clone();
        tasks.spawn(async move {
            let request = Request::post("/api/activities")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::from(crud().to_string()))
                .unwrap();
            tower::ServiceExt::oneshot(router, request)
                .await
                .unwrap()
                .status()
        });
    }
    let statuses = tokio::time::timeout(Duration::from_secs(120), tasks.join_all())
        .await
        .expect("the flood must be answered");
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    assert_eq!(jwks.fetches(), 1);
}

#[tokio::test]
async fn a_jwks_endpoint_that_never_answers_is_given_up_on_and_writes_are_503() {
    // Accepts the connection, never sends a byte: only the fetch's own timeout ends it.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", silent.local_addr().unwrap());
    let mut config = api::cognito::CognitoConfig::new(
        test_db::cognito::POOL_ID,
        test_db::cognito::CLIENT_ID,
        None,
    )
    .unwrap();
    config.jwks_url = url;
    let app = cognito_app(config).await;
    let token = keys().0.sign(&access_claims(ANDREW_SUB), None);
    let reply = tokio::time::timeout(
        Duration::from_secs(60),
        create_with(&app, Some(&token), &crud()),
    )
    .await
    .expect("the JWKS fetch must time out on its own");
    assert_auth_unavailable(&reply);
}

/// A JWKS URL that redirects: each hop must obey the rule the URL does. The target here is the
/// real key server, named by an address that is loopback in fact (an IPv4-mapped IPv6 address)
/// but not by the rule, so following the redirect would fetch valid keys: it must not be followed.
#[tokio::test]
async fn a_redirect_the_url_rule_refuses_is_not_followed() {
    let (current, _) = keys();
    let jwks = JwksServer::start(vec![current.jwk()]).await;
    let real = url::Url::parse(&jwks.url).unwrap();
    let elsewhere = format!(
        "http://[::ffff:127.0.0.1]:{}{}",
        real.port().unwrap(),
        real.path()
    );
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_url = format!("http://{}/jwks.json", redirector.local_addr().unwrap());
    let to = elsewhere.clone();
    let app = axum::Router::new().fallback(move || {
        let to = to.clone();
        async move { (StatusCode::FOUND, [(header::LOCATION, to)]) }
    });
    tokio::spawn(async move { axum::serve(redirector, app).await.unwrap() });
    let mut config = jwks.config(NO_REFETCH);
    config.set_jwks_url(&redirect_url).unwrap();
    let app = cognito_app(config).await;
    let token = current.sign(&access_claims(ANDREW_SUB), None);
    let reply = create_with(&app, Some(&token), &crud()).await;
    assert_auth_unavailable(&reply);
    assert_eq!(
        jwks.fetches(),
        0,
        "the redirect to {elsewhere} was followed"
    );
}

#[tokio::test]
async fn a_user_whose_old_handle_would_parse_as_another_cannot_write() {
    // Before the handle rule, one leading @ was dropped on the way in, so `@@bayko` was stored
    // as `@bayko`. Parsed again it would be `bayko`: that user must not write as bayko.
    let (_jwks, app) = started().await;
    app.sql(
        "ALTER TABLE users DROP CONSTRAINT users_handle_format;
         INSERT INTO users (display_name, handle, email, cognito_user_id)
         VALUES ('Old', '@bayko', 'old@example.com', 'sub-old')",
    )
    .await;
    let before = app.count_activities().await;
    let token = keys().0.sign(&access_claims("sub-old"), None);
    let reply = create_with(&app, Some(&token), &crud()).await;
    assert_eq!(
        (reply.status, reply.codes()),
        (
            StatusCode::FORBIDDEN,
            vec!["forbidden".to_owned(), "user_handle_invalid".to_owned()]
        )
    );
    let profile = send_with_token(
        &app,
        "PUT",
        "/api/profile/update",
        Some(&token),
        &json!({"display_name": "Not Bayko"}),
    )
    .await;
    assert_eq!(profile.status, StatusCode::FORBIDDEN);
    assert_eq!(app.count_activities().await, before);
    let bayko = app.get("/api/users/@bayko/short").await.json();
    assert_eq!(bayko["display_name"], "Andrew Bayko");
}

#[tokio::test]
async fn the_web_page_is_read_only_in_cognito_mode() {
    let (_jwks, app) = started().await;
    let reply = app.get("/").await;
    assert_eq!(reply.status, StatusCode::OK);
    let page = String::from_utf8(reply.body).unwrap();
    assert!(page.contains("This was imported as seed data!"));
    assert!(!page.contains("<form"), "no form to post with: {page}");
    assert!(!page.contains("id=\"author\""));
    assert!(page.contains("Sign in and post through the Cruddur app."));
}
