//! `cruddur serve` in cognito mode, as deployed: the real binary, a real JWKS endpoint on
//! 127.0.0.1, tokens signed by the test pool's key. And dev mode refusing a network address.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;
use test_db::cognito::{access_claims, keys, ANDREW_SUB, CLIENT_ID, POOL_ID};
use test_db::TestDb;

use crate::serve::{forward_lines, http, Killed};

const GUARD: Duration = Duration::from_secs(60);

/// Serves `body` as JSON to every request, on a free port of 127.0.0.1, until the test ends.
fn serve_json_forever(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    format!("http://{addr}/{POOL_ID}/.well-known/jwks.json")
}

fn post(addr: &str, token: Option<&str>, body: &str) -> String {
    let authorization = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    http(
        addr,
        &format!(
            "POST /api/activities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[tokio::test]
async fn serve_in_cognito_mode_writes_only_as_the_tokens_user() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    db::seeds::seed(&mut client).await.unwrap();
    client
        .execute(
            "UPDATE users SET cognito_user_id = $1 WHERE handle = 'andrewbrown'",
            &[&ANDREW_SUB],
        )
        .await
        .unwrap();
    let jwks_url = serve_json_forever(json!({ "keys": [keys().0.jwk()] }).to_string());

    let mut child = Command::new(assert_cmd::cargo::cargo_bin("cruddur"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        // The URL carries the password: the environment, never argv (visible in `ps`).
        .env("CONNECTION_URL", db.url().expose())
        .env("AWS_COGNITO_USER_POOL_ID", POOL_ID)
        .env("AWS_COGNITO_USER_POOL_CLIENT_ID", CLIENT_ID)
        .env("AWS_COGNITO_JWKS_URL", &jwks_url)
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env("RUST_LOG", "info")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let _server = Killed(child);
    let (tx, rx) = mpsc::channel();
    forward_lines(stdout, tx.clone());
    forward_lines(stderr, tx);
    let mut seen = Vec::new();
    let addr = loop {
        let line = rx.recv_timeout(GUARD).expect("serve must print its URL");
        if let Some(url) = line.strip_prefix("cruddur is up: http://") {
            break url.trim_end_matches("/api/activities/home").to_owned();
        }
        seen.push(line);
    };
    // The log (stderr) and the URL line (stdout) come through two pipes, in no fixed order:
    // read on until the start line, if it has not come yet.
    while !seen.iter().any(|l| l.contains("\"serving\"")) {
        match rx.recv_timeout(GUARD) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no start line in {seen:?}"),
        }
    }
    let start_line = seen
        .iter()
        .find(|l| l.contains("\"serving\""))
        .unwrap_or_else(|| panic!("no start line in {seen:?}"));
    assert!(
        start_line.contains("cognito (author = the access token's user"),
        "{start_line}"
    );

    let token = keys().0.sign(&access_claims(ANDREW_SUB), None);
    let body = r#"{"message":"from the real binary","ttl":"1-day"}"#;
    let created = post(&addr, Some(&token), body);
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    assert!(created.contains(r#""handle":"andrewbrown""#), "{created}");
    let anonymous = post(&addr, None, body);
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
    assert!(anonymous.ends_with(r#"["unauthorized"]"#), "{anonymous}");
    let as_bayko = post(
        &addr,
        Some(&token),
        r#"{"message":"impostor","ttl":"1-day","user_handle":"bayko"}"#,
    );
    assert!(as_bayko.starts_with("HTTP/1.1 403"), "{as_bayko}");
    let feed = http(
        &addr,
        "GET /api/activities/home HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer null\r\nConnection: close\r\n\r\n",
    );
    assert!(feed.starts_with("HTTP/1.1 200"), "{feed}");
    assert!(
        feed.contains("from the real binary") && !feed.contains("impostor"),
        "{feed}"
    );
}

/// `cruddur serve` with `bind` and `env` (name, value; an empty value removes it), expected to
/// refuse to start; its stderr.
fn serve_refuses(bind: &str, env: &[(&str, &str)]) -> String {
    let url = crate::url_of("no_database_needed");
    let mut command = crate::cruddur();
    command
        .args(["serve", "--bind", bind])
        .env("CONNECTION_URL", &url);
    for (name, value) in env {
        if value.is_empty() {
            command.env_remove(name);
        } else {
            command.env(name, value);
        }
    }
    let assert = command.assert().failure();
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

#[test]
fn dev_mode_refuses_a_network_address_without_the_explicit_flag() {
    let stderr = serve_refuses(
        "0.0.0.0:0",
        &[
            ("AWS_COGNITO_USER_POOL_ID", ""),
            ("AWS_COGNITO_USER_POOL_CLIENT_ID", ""),
        ],
    );
    assert!(stderr.contains("refusing to serve dev mode"), "{stderr}");
    assert!(stderr.contains("--allow-dev-auth-on-network"), "{stderr}");
}

#[test]
fn a_zero_limit_is_refused_at_start_not_quietly_raised() {
    for name in [
        "REQUEST_TIMEOUT_SECS",
        "MAX_IN_FLIGHT",
        "HEADER_READ_TIMEOUT_SECS",
        "IDLE_TIMEOUT_SECS",
        "MAX_CONNECTIONS",
    ] {
        let stderr = serve_refuses("127.0.0.1:0", &[(name, "0")]);
        assert!(stderr.contains("invalid value '0'"), "{name}: {stderr}");
    }
}

#[test]
fn half_a_cognito_configuration_is_refused() {
    let stderr = serve_refuses(
        "127.0.0.1:0",
        &[
            ("AWS_COGNITO_USER_POOL_ID", POOL_ID),
            ("AWS_COGNITO_USER_POOL_CLIENT_ID", ""),
        ],
    );
    assert!(
        stderr.contains("set both AWS_COGNITO_USER_POOL_ID"),
        "{stderr}"
    );
}

#[test]
fn a_frontend_url_that_is_not_a_list_of_origins_is_a_one_line_error() {
    let stderr = serve_refuses(
        "127.0.0.1:0",
        &[(
            "FRONTEND_URL",
            "http://localhost:3000, https://*.example.com",
        )],
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: FRONTEND_URL `https://*.example.com` is not an origin"),
        "{stderr}"
    );
}

#[test]
fn sign_in_settings_are_checked_at_start_each_with_a_sentence_naming_the_setting() {
    let cognito = [
        ("AWS_COGNITO_USER_POOL_ID", POOL_ID),
        ("AWS_COGNITO_USER_POOL_CLIENT_ID", "test-client-id"),
    ];
    let with = |extra: &[(&'static str, &'static str)], pool: bool| {
        let mut env: Vec<(&str, &str)> = if pool {
            cognito.to_vec()
        } else {
            vec![
                ("AWS_COGNITO_USER_POOL_ID", ""),
                ("AWS_COGNITO_USER_POOL_CLIENT_ID", ""),
            ]
        };
        env.extend_from_slice(extra);
        serve_refuses("127.0.0.1:0", &env)
    };
    let no_site = with(
        &[
            ("COGNITO_DOMAIN", "https://login.example"),
            ("PUBLIC_URL", ""),
        ],
        true,
    );
    assert!(no_site.contains("PUBLIC_URL must be set"), "{no_site}");
    let plain_site = with(
        &[
            ("COGNITO_DOMAIN", "https://login.example"),
            ("PUBLIC_URL", "http://cruddur.example"),
        ],
        true,
    );
    assert!(
        plain_site.contains("PUBLIC_URL:") && plain_site.contains("must be https"),
        "{plain_site}"
    );
    let plain_login = with(
        &[
            ("COGNITO_DOMAIN", "http://login.example"),
            ("PUBLIC_URL", "https://cruddur.example"),
        ],
        true,
    );
    assert!(plain_login.contains("COGNITO_DOMAIN:"), "{plain_login}");
    let short_idle = with(
        &[
            ("COGNITO_DOMAIN", "https://login.example"),
            ("PUBLIC_URL", "https://cruddur.example"),
            ("SESSION_IDLE_SECS", "5"),
        ],
        true,
    );
    assert!(
        short_idle.contains("SESSION_IDLE_SECS must be at least 60"),
        "{short_idle}"
    );
    let dev = with(
        &[
            ("COGNITO_DOMAIN", "https://login.example"),
            ("PUBLIC_URL", "https://cruddur.example"),
        ],
        false,
    );
    assert!(dev.contains("needs cognito mode"), "{dev}");
}
