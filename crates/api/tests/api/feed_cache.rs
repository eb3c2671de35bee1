//! The home feed's first page from memory, never wrong: own writes show at once, others' writes
//! (psql here) within the notification delay, expiry on the database's clock, a lost listener
//! means no cache until it listens again, and concurrent readers never miss an acknowledged crud.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::Value;

use crate::helpers::{wait_for, Reply, TestApp, WAIT_GUARD};

fn messages(reply: &Reply) -> Vec<String> {
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["message"].as_str().unwrap().to_owned())
        .collect()
}

async fn home_if_none_match(app: &TestApp, etag: &str) -> Reply {
    app.send(
        Request::get("/api/activities/home")
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

/// Polls the feed until `wanted` holds for its messages; panics after `bound`.
async fn feed_until(app: &TestApp, bound: Duration, wanted: impl Fn(&[String]) -> bool) {
    tokio::time::timeout(bound, async {
        loop {
            let reply = app.home("").await;
            assert_eq!(reply.status, StatusCode::OK);
            if wanted(&messages(&reply)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the feed never showed what was expected");
}

#[tokio::test]
async fn the_first_page_is_served_from_memory_and_an_own_create_shows_at_once() {
    let (app, cache) = TestApp::with_feed_cache().await;
    let first = app.home("").await;
    assert_eq!(first.status, StatusCode::OK);
    let rebuilds = cache.rebuilds();
    let second = app.home("").await;
    assert_eq!(second.body, first.body);
    assert_eq!(second.headers[header::ETAG], first.headers[header::ETAG]);
    assert_eq!(
        cache.rebuilds(),
        rebuilds,
        "the second read came from memory"
    );

    let created = app.create("mine, at once", "1-day", "bayko").await;
    assert_eq!(created.status, StatusCode::OK);
    // No wait: the create dropped the page before it was answered.
    let after = app.home("").await;
    assert_eq!(messages(&after)[0], "mine, at once");
    // Other pages and sizes still read the database.
    let other = app.home("?limit=5").await;
    assert_eq!(messages(&other)[0], "mine, at once");
    assert!(other.headers.get(header::ETAG).is_none());
}

#[tokio::test]
async fn if_none_match_is_answered_304_until_the_page_changes() {
    let (app, _cache) = TestApp::with_feed_cache().await;
    let first = app.home("").await;
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    assert_eq!(first.headers[header::CACHE_CONTROL], "no-cache");
    let same = home_if_none_match(&app, &etag).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert!(same.body.is_empty());
    assert_eq!(same.headers[header::ETAG], etag.as_str());

    app.create("a change", "1-day", "bayko").await;
    let changed = home_if_none_match(&app, &etag).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_ne!(changed.headers[header::ETAG], etag.as_str());
    assert_eq!(messages(&changed)[0], "a change");
}

/// A reply's headers that must agree between the fast lane and the layers: all but the
/// request id, which is each request's own.
fn comparable_headers(reply: &Reply) -> Vec<(String, Vec<u8>)> {
    let mut headers: Vec<(String, Vec<u8>)> = reply
        .headers
        .iter()
        .filter(|(name, _)| name.as_str() != "x-request-id")
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    headers.sort();
    headers
}

#[tokio::test]
async fn the_fast_lane_answers_exactly_as_the_layers_do() {
    let (app, cache) = TestApp::with_feed_cache().await;
    let first = app.home("").await;
    assert_eq!(first.headers["x-cache"], "miss");
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();

    let before = cache.fast_answers();
    let lane = app.home("").await;
    assert_eq!(cache.fast_answers(), before + 1, "the lane answered");
    // `?limit=20` is the same page through routing and every layer.
    let layered = app.home("?limit=20").await;
    assert_eq!(cache.fast_answers(), before + 1, "the layers answered");
    assert_eq!(lane.status, StatusCode::OK);
    assert_eq!(lane.headers["x-cache"], "hit");
    assert_eq!(layered.headers["x-cache"], "hit");
    assert_eq!(lane.body, layered.body);
    assert_eq!(comparable_headers(&lane), comparable_headers(&layered));
    assert!(
        lane.headers.contains_key(header::VARY),
        "CORS's headers are on the lane's answer: {:?}",
        lane.headers
    );
    let lane_id = lane.headers["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(lane_id).is_ok(), "{lane_id}");

    let lane_304 = home_if_none_match(&app, &etag).await;
    let layered_304 = app
        .send(
            Request::get("/api/activities/home?limit=20")
                .header(header::IF_NONE_MATCH, &etag)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(cache.fast_answers(), before + 2);
    assert_eq!(lane_304.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        comparable_headers(&lane_304),
        comparable_headers(&layered_304)
    );

    // Only GET takes the lane: other methods get what the router answers.
    let posted = app
        .send(
            Request::post("/api/activities/home")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(posted.status, StatusCode::METHOD_NOT_ALLOWED);
    let head = app
        .send(
            Request::head("/api/activities/home")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.body.is_empty());
    assert_eq!(cache.fast_answers(), before + 2, "neither took the lane");
}

#[tokio::test]
async fn a_cross_origin_request_for_the_feed_goes_through_cors() {
    let (app, cache) = TestApp::with_feed_cache().await;
    app.home("").await;
    let before = cache.fast_answers();
    let allowed = app
        .send(
            Request::get("/api/activities/home")
                .header(header::ORIGIN, crate::helpers::FRONTEND)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.headers["x-cache"], "hit");
    assert_eq!(
        allowed.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        crate::helpers::FRONTEND
    );
    let other = app
        .send(
            Request::get("/api/activities/home")
                .header(header::ORIGIN, "http://evil.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(!other
        .headers
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    assert_eq!(cache.fast_answers(), before, "neither took the fast lane");
}

#[tokio::test]
async fn a_crud_written_by_psql_appears_within_the_notification_delay() {
    let (app, _cache) = TestApp::with_feed_cache().await;
    app.home("").await; // kept
    app.sql(
        "INSERT INTO activities (user_uuid, message, expires_at)
         SELECT uuid, 'from psql', now() + interval '1 day' FROM users WHERE handle = 'bayko'",
    )
    .await;
    // "Well under a second": the notification, then one read of the database.
    feed_until(&app, Duration::from_secs(1), |m| {
        m.first().is_some_and(|first| first == "from psql")
    })
    .await;
    // A display name changed by psql shows too (users' changes notify as well).
    app.sql("UPDATE users SET display_name = 'Renamed By Psql' WHERE handle = 'bayko'")
        .await;
    tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let page = app.home("").await.json();
            if page[0]["display_name"] == "Renamed By Psql" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the rename never showed");
}

#[tokio::test]
async fn a_crud_leaves_the_cached_page_when_the_database_would_hide_it() {
    let (app, _cache) = TestApp::with_feed_cache().await;
    let client = app.db.client().await;
    let expires: chrono::DateTime<chrono::Utc> = client
        .query_one(
            "INSERT INTO activities (user_uuid, message, expires_at)
             SELECT uuid, 'short-lived', now() + interval '1500 milliseconds'
             FROM users WHERE handle = 'bayko'
             RETURNING expires_at",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    feed_until(&app, Duration::from_secs(1), |m| {
        m.first().is_some_and(|f| f == "short-lived")
    })
    .await;
    // Let the insert's own notification arrive (it may drop the page once more), then have the
    // page kept again with the crud on it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    feed_until(&app, Duration::from_secs(1), |m| {
        m.first().is_some_and(|f| f == "short-lived")
    })
    .await;
    // The database now says otherwise, unheard: triggers are off in this session, so no
    // notification drops the page. A read still showing "short-lived" came from memory.
    client
        .batch_execute(
            "SET session_replication_role = replica;
             UPDATE activities SET message = 'short-lived, edited unheard'
              WHERE message = 'short-lived';
             RESET session_replication_role;",
        )
        .await
        .unwrap();
    let mut from_memory = 0;
    // From the moment the database's clock passes the crud's expiry, no read may show it.
    tokio::time::timeout(WAIT_GUARD, async {
        loop {
            let db_now: chrono::DateTime<chrono::Utc> = client
                .query_one("SELECT clock_timestamp()", &[])
                .await
                .unwrap()
                .get(0);
            let shown = messages(&app.home("").await);
            if db_now > expires {
                assert!(
                    !shown.iter().any(|m| m.starts_with("short-lived")),
                    "served after its expiry ({db_now} > {expires}): {shown:?}"
                );
                return;
            }
            if shown.first().is_some_and(|m| m == "short-lived") {
                from_memory += 1;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("the database's clock never passed the expiry");
    assert!(
        from_memory > 0,
        "no read before the expiry came from the kept page: its expiry was never exercised"
    );
}

#[tokio::test]
async fn with_its_listener_terminated_the_cache_is_bypassed_until_it_listens_again() {
    let (app, cache) = TestApp::with_feed_cache().await;
    app.home("").await;
    let client = app.db.client().await;
    let terminated: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity, pg_terminate_backend(pid)
             WHERE application_name = $1 AND datname = current_database()",
            &[&db::notify::LISTENER_APPLICATION_NAME],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(terminated, 1, "one listener");
    wait_for(|| !cache.is_trusted()).await;
    // Read (and, were it trusted, kept) while nobody listens…
    app.home("").await;
    // …then written while nobody listens: its notification is lost for good.
    client
        .batch_execute(
            "INSERT INTO activities (user_uuid, message, expires_at)
             SELECT uuid, 'unheard', now() + interval '1 day' FROM users WHERE handle = 'bayko'",
        )
        .await
        .unwrap();
    // Whether the listener is back yet or not, the page kept before must not be served.
    let page = app.home("").await;
    assert_eq!(messages(&page)[0], "unheard", "a stale page was served");
    wait_for(|| cache.is_trusted()).await;
    let page = app.home("").await;
    assert_eq!(
        messages(&page)[0],
        "unheard",
        "reloaded after the reconnect"
    );
    let rebuilds = cache.rebuilds();
    app.home("").await;
    assert_eq!(cache.rebuilds(), rebuilds, "kept again");
}

#[tokio::test]
async fn a_burst_of_misses_reads_the_database_once() {
    let (app, cache) = TestApp::with_feed_cache().await;
    app.create("drop the page", "1-day", "bayko").await;
    // Let this create's own notification arrive (it drops the page once more).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rebuilds = cache.rebuilds();
    let app = Arc::new(app);
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let app = Arc::clone(&app);
        burst.spawn(async move { app.home("").await.status });
    }
    for status in burst.join_all().await {
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(cache.rebuilds(), rebuilds + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_read_started_after_an_acknowledged_create_misses_it() {
    let (app, _cache) = TestApp::with_feed_cache().await;
    let app = Arc::new(app);
    // The newest acknowledged crud; every read that starts later must show it.
    let newest_acked: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..4 {
        let app = Arc::clone(&app);
        let newest = Arc::clone(&newest_acked);
        writers.spawn(async move {
            for i in 0..15 {
                let message = format!("w{writer}-{i}");
                let reply = app.create(&message, "1-day", "bayko").await;
                assert_eq!(reply.status, StatusCode::OK);
                let uuid = reply.json()["uuid"].as_str().unwrap().to_owned();
                *newest.lock().unwrap() = Some(uuid.clone());
                let page = app.home("").await.json();
                let uuids: Vec<&Value> = page
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| &i["uuid"])
                    .collect();
                assert!(
                    uuids.iter().any(|u| *u == uuid.as_str()),
                    "{message} missing from its author's next read"
                );
            }
        });
    }
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let app = Arc::clone(&app);
        let newest = Arc::clone(&newest_acked);
        readers.spawn(async move {
            let mut reads = 0;
            for _ in 0..200 {
                let wanted = newest.lock().unwrap().clone();
                let page = app.home("").await.json();
                if let Some(wanted) = wanted {
                    let shown = page
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|item| item["uuid"] == wanted.as_str());
                    assert!(
                        shown,
                        "a read started after {wanted} was acknowledged missed it"
                    );
                }
                reads += 1;
            }
            reads
        });
    }
    tokio::time::timeout(WAIT_GUARD, writers.join_all())
        .await
        .expect("writers finished");
    let reads: Vec<i32> = tokio::time::timeout(WAIT_GUARD, readers.join_all())
        .await
        .expect("readers finished");
    assert_eq!(reads, [200, 200, 200, 200]);
}

#[tokio::test]
async fn every_write_route_drops_the_cached_page_before_it_answers() {
    let (app, cache) = TestApp::with_feed_cache().await;
    // Without the triggers no notification ever comes: only the write path itself can drop
    // the page, so a route that skips it leaves the cache showing the page from before.
    app.sql(
        "DROP TRIGGER activities_notify_feed ON activities;
         DROP TRIGGER users_notify_feed ON users;",
    )
    .await;
    let parent = app
        .create("the parent", "1-day", "andrewbrown")
        .await
        .json()["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    // (method, path as documented, request, what the next first page must show)
    type Shows = Box<dyn Fn(&Value) -> bool>;
    let writes: Vec<(Method, &str, Request<Body>, Shows)> = vec![
        (
            Method::POST,
            "/api/activities",
            json_request(
                Method::POST,
                "/api/activities",
                &serde_json::json!({
                    "message": "created, shown at once", "ttl": "1-day", "user_handle": "bayko"
                }),
            ),
            Box::new(|page| page[0]["message"] == "created, shown at once"),
        ),
        (
            Method::POST,
            "/api/activities/{uuid}/reply",
            json_request(
                Method::POST,
                &format!("/api/activities/{parent}/reply"),
                &serde_json::json!({
                    "message": "a reply", "user_handle": "bayko"
                }),
            ),
            Box::new(|page| {
                page.as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["replies_count"] == 1)
            }),
        ),
        // The same two with an Idempotency-Key, which takes a path of its own.
        (
            Method::POST,
            "/api/activities",
            with_key(json_request(
                Method::POST,
                "/api/activities",
                &serde_json::json!({
                    "message": "keyed, shown at once", "ttl": "1-day", "user_handle": "bayko"
                }),
            )),
            Box::new(|page| page[0]["message"] == "keyed, shown at once"),
        ),
        (
            Method::POST,
            "/api/activities/{uuid}/reply",
            with_key(json_request(
                Method::POST,
                &format!("/api/activities/{parent}/reply"),
                &serde_json::json!({
                    "message": "a keyed reply", "user_handle": "bayko"
                }),
            )),
            Box::new(|page| {
                page.as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["replies_count"] == 2)
            }),
        ),
        (
            Method::POST,
            "/api/profile/update",
            json_request(
                Method::POST,
                "/api/profile/update",
                &serde_json::json!({
                    "display_name": "Renamed By Post", "user_handle": "andrewbrown"
                }),
            ),
            Box::new(|page| {
                page.as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["display_name"] == "Renamed By Post")
            }),
        ),
        (
            Method::PUT,
            "/api/profile/update",
            json_request(
                Method::PUT,
                "/api/profile/update",
                &serde_json::json!({
                    "display_name": "Renamed By Put", "user_handle": "andrewbrown"
                }),
            ),
            Box::new(|page| {
                page.as_array()
                    .unwrap()
                    .iter()
                    .any(|i| i["display_name"] == "Renamed By Put")
            }),
        ),
    ];
    // Every writing operation the API documents is among them.
    let document = app.get("/api/openapi.json").await.json();
    let documented: std::collections::BTreeSet<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|method| *method != "get")
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let sent: std::collections::BTreeSet<(String, String)> = writes
        .iter()
        .map(|(method, path, _, _)| (method.to_string(), (*path).to_owned()))
        .collect();
    assert_eq!(sent, documented, "a writing route this test does not send");

    for (method, path, request, shows) in writes {
        app.home("").await;
        let rebuilds = cache.rebuilds();
        let kept = app.home("").await.json();
        assert_eq!(cache.rebuilds(), rebuilds, "the page is kept in memory");
        assert!(
            !shows(&kept),
            "{method} {path}: the page shows the write before it is sent"
        );
        let answer = app.send(request).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{method} {path}: {:?}",
            answer.json()
        );
        let page = app.home("").await.json();
        assert!(
            shows(&page),
            "{method} {path}: the next first page misses the write: {page}"
        );
    }
}

/// `request` with an `Idempotency-Key` of its own.
fn with_key(mut request: Request<Body>) -> Request<Body> {
    let key = uuid::Uuid::new_v4().to_string();
    request
        .headers_mut()
        .insert("idempotency-key", key.parse().unwrap());
    request
}

fn json_request(method: Method, uri: &str, body: &Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}
