//! Reads on a streaming standby, against a real primary and a real standby (`pg_basebackup`
//! of an own cluster) started by the harness: where reads and writes land (seen in each
//! server's `pg_stat_activity`), a standby killed under load, replay paused past the lag bound,
//! and the feed cache rebuilding after a notification the standby has not replayed.
#![allow(clippy::unwrap_used)] // a test binary: a panic is the failure report

use std::time::Duration;

use api::{App, AppConfig};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use db::Reads;
use http_body_util::BodyExt;
use local_cluster::Durability;
use serde_json::{json, Value};
use test_db::{wait_until, OwnCluster, OwnStandby, OWN_DATABASE};
use tokio_postgres::Client;
use tower::ServiceExt;

/// A primary with the seed, its standby, and the service reading from the standby as
/// `cruddur serve --read-connection-url …` does.
struct Replicated {
    // Dropped in this order: the standby lives in the primary's folder.
    standby: OwnStandby,
    primary: OwnCluster,
    primary_settings: db::ConnectSettings,
    service: App,
    reads: Reads,
}

impl Replicated {
    async fn start(max_lag: Duration) -> Self {
        Self::start_with(max_lag, |_| {}).await
    }

    /// [`Self::start`], with the service's config changed by `configure`.
    async fn start_with(max_lag: Duration, configure: impl FnOnce(&mut AppConfig)) -> Self {
        let primary = OwnCluster::start(Durability::Ephemeral, true).await;
        let standby = primary.start_standby().await;
        let mut primary_settings: db::ConnectSettings = primary.url(OWN_DATABASE).parse().unwrap();
        let mut standby_settings = standby.url(OWN_DATABASE).parse().unwrap();
        for settings in [&mut primary_settings, &mut standby_settings] {
            settings.pg.application_name(UNDER_TEST);
        }
        let mut database = db::DatabaseConfig::direct(primary_settings.clone());
        database.standbys = vec![standby_settings];
        database.read_max_lag = max_lag;
        let mut config = service_config(database);
        configure(&mut config);
        let service = App::build(config).await.unwrap();
        let replicated = Self {
            reads: service.reads().clone(),
            primary,
            standby,
            primary_settings,
            service,
        };
        replicated.wait_until_serving(true).await;
        replicated
    }

    fn router(&self) -> Router {
        from_test_peer(self.service.router())
    }

    async fn wait_until_serving(&self, serving: bool) {
        let reads = self.reads.clone();
        wait_until(
            &format!("the standby serving reads is {serving}"),
            async || reads.standbys()[0].serving == serving,
        )
        .await;
    }
}

/// The service on `database` in dev mode, write limits off (the tests write from one address).
fn service_config(database: db::DatabaseConfig) -> AppConfig {
    let mut config = AppConfig::on_loopback(database);
    config.write_limits = api::rate_limit::WriteLimits::OFF;
    config
}

/// `router` as if every `oneshot` request came from one client.
fn from_test_peer(router: Router) -> Router {
    router.layer(axum::extract::connect_info::MockConnectInfo(
        std::net::SocketAddr::from(([127, 0, 0, 1], 40_000)),
    ))
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, Vec<u8>) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}

async fn get(router: &Router, uri: &str) -> (StatusCode, Vec<u8>) {
    send(router, Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn create(router: &Router, message: &str) -> Value {
    let body = json!({"message": message, "ttl": "7-days", "user_handle": "andrewbrown"});
    let (status, body) = send(
        router,
        Request::post("/api/activities")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

/// The `application_name` of the pools under test (the watcher and the listener have theirs).
const UNDER_TEST: &str = "cruddur under test";

/// Backends of the pools under test on one server.
/// The service's sessions on a server that have run anything but the health check the
/// service sends as it starts (its last statement is the one `pg_stat_activity` shows).
async fn service_backends(client: &Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = $1 AND query NOT LIKE '%Health check%'",
            &[&UNDER_TEST],
        )
        .await
        .unwrap()
        .get(0)
}

const READS: [&str; 4] = [
    "/api/activities/home",
    "/api/activities/@andrewbrown",
    "/api/users/@andrewbrown/short",
    "/@andrewbrown",
];

#[tokio::test]
async fn reads_are_served_by_the_standby_and_writes_by_the_primary() {
    let replicated = Replicated::start(Duration::from_secs(5)).await;
    let router = replicated.router();
    let on_primary = replicated.primary.connect(OWN_DATABASE).await;
    let on_standby = replicated.standby.connect(OWN_DATABASE).await;
    for uri in READS {
        let (status, body) = get(&router, uri).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{uri}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    // The web page reads twice: the user's page and the authors of the dev-mode picker.
    assert_eq!(replicated.reads.reads_on_standbys(), 5);
    assert_eq!(replicated.reads.reads_on_primary(), 0);
    assert!(service_backends(&on_standby).await >= 1);
    assert_eq!(
        service_backends(&on_primary).await,
        0,
        "a read reached the primary"
    );

    let created = create(&router, "written on the primary").await;
    let written = std::time::Instant::now();
    assert_eq!(created["message"], "written on the primary");
    assert!(service_backends(&on_primary).await >= 1);
    // The create's answer came from the primary (the standby may not have it yet); once the
    // standby is proven to have replayed it, its status page reads from the standby.
    let status = format!(
        "/api/activities/@andrewbrown/status/{}",
        created["uuid"].as_str().unwrap()
    );
    let reads = replicated.reads.clone();
    wait_until("the standby has replayed the create", async || {
        reads.standbys()[0]
            .behind_at_most
            .is_some_and(|behind| behind < written.elapsed())
    })
    .await;
    let (code, _) = get(&router, &status).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(replicated.reads.reads_on_standbys(), 6);
}

#[tokio::test]
async fn a_standby_killed_under_read_load_costs_no_error_and_serves_again_once_back() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let replicated = Replicated::start(Duration::from_secs(1)).await;
    let router = replicated.router();
    // Workers read until told to stop, so the kill lands in the middle of the load whatever
    // the machine's speed; the load is bounded by the stop and by a cap of requests.
    const WORKERS: usize = 8;
    const CAP: usize = 5_000;
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let (router, done, stop) = (router.clone(), Arc::clone(&done), Arc::clone(&stop));
        workers.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut i = worker;
            while !stop.load(Ordering::SeqCst) && done.load(Ordering::SeqCst) < CAP {
                let uri = READS[i % READS.len()];
                let (status, body) = get(&router, uri).await;
                if status != StatusCode::OK {
                    failures.push(format!(
                        "{uri}: {status} {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                done.fetch_add(1, Ordering::SeqCst);
                i += WORKERS;
            }
            failures
        }));
    }
    let progress = Arc::clone(&done);
    wait_until("100 reads are done", async || {
        progress.load(Ordering::SeqCst) >= 100
    })
    .await;
    assert!(
        replicated.reads.reads_on_standbys() > 0,
        "no read reached the standby before the kill"
    );
    replicated.standby.kill();
    let at_kill = done.load(Ordering::SeqCst);
    wait_until("200 more reads are done after the kill", async || {
        progress.load(Ordering::SeqCst) >= at_kill + 200
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    let mut failures = Vec::new();
    for worker in workers {
        failures.extend(
            tokio::time::timeout(Duration::from_secs(60), worker)
                .await
                .expect("the read load finished in 60 s")
                .unwrap(),
        );
    }
    assert_eq!(
        failures,
        Vec::<String>::new(),
        "reads failed while the standby died"
    );
    assert!(
        replicated.reads.reads_on_primary() >= 200,
        "the reads after the kill did not go to the primary"
    );
    replicated.wait_until_serving(false).await;

    replicated.standby.restart();
    replicated.wait_until_serving(true).await;
    let on_standby = replicated.reads.reads_on_standbys();
    let (status, _) = get(&router, "/api/activities/home").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replicated.reads.reads_on_standbys(), on_standby + 1);
}

#[tokio::test]
async fn a_standby_keeping_up_with_a_steady_write_load_keeps_serving() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let replicated = Replicated::start(Duration::from_secs(1)).await;
    let router = replicated.router();
    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (router, writing) = (router.clone(), Arc::clone(&writing));
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while writing.load(Ordering::SeqCst) && n < 2_000 {
                create(&router, &format!("steady {w} {n}")).await;
                n += 1;
            }
            n
        }));
    }
    // Three seconds of writes, three lag bounds: the standby, a few milliseconds behind the
    // primary at every moment, must stay proven within the bound all along.
    let mut samples = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < until {
        samples.push(replicated.reads.standbys()[0].serving);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    writing.store(false, Ordering::SeqCst);
    let mut written = 0;
    for writer in writers {
        written += writer.await.unwrap();
    }
    assert!(
        written >= 100,
        "only {written} creates in 3 s: not a steady load"
    );
    assert!(
        samples.iter().all(|serving| *serving),
        "the standby stopped serving under {written} creates in 3 s: {} of {} samples",
        samples.iter().filter(|s| !**s).count(),
        samples.len()
    );
}

#[tokio::test]
async fn a_standby_paused_past_the_lag_bound_serves_nothing_until_it_catches_up() {
    let replicated = Replicated::start(Duration::from_millis(500)).await;
    let router = replicated.router();
    replicated.standby.pause_replay(&replicated.primary).await;
    let created = create(&router, "not replayed yet").await;
    let status = format!(
        "/api/activities/@andrewbrown/status/{}",
        created["uuid"].as_str().unwrap()
    );
    replicated.wait_until_serving(false).await;
    // Only the primary has it: a read that went to the standby would be a 404.
    let on_primary = replicated.reads.reads_on_primary();
    let (code, body) = get(&router, &status).await;
    assert_eq!(code, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(replicated.reads.reads_on_primary(), on_primary + 1);

    replicated.standby.resume_replay().await;
    replicated.wait_until_serving(true).await;
    let served = replicated.reads.reads_on_standbys();
    let (code, _) = get(&router, &status).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(replicated.reads.reads_on_standbys(), served + 1);
}

#[tokio::test]
async fn the_feed_cache_rebuilds_after_a_notification_from_a_server_that_has_the_write() {
    // A bound so loose that only the notification's moment keeps the rebuild off the standby.
    let replicated = Replicated::start_with(Duration::from_secs(120), |config| {
        config.feed.cache = true;
    })
    .await;
    let cache = replicated.service.feed_cache().unwrap().clone();
    let router = replicated.router();
    wait_until("the feed cache is trusted", async || cache.is_trusted()).await;
    let (status, _) = get(&router, "/api/activities/home").await;
    assert_eq!(status, StatusCode::OK);
    let on_standby = replicated.standby.connect(OWN_DATABASE).await;
    replicated.standby.pause_replay(&replicated.primary).await;
    // Another server writes: this one hears of it only through NOTIFY.
    let other = router_on_primary_only(&replicated).await;
    let created = create(&other, "written by another server").await;
    let uuid: uuid::Uuid = created["uuid"].as_str().unwrap().parse().unwrap();
    let on_standby_count: i64 = on_standby
        .query_one("SELECT count(*) FROM activities WHERE uuid = $1", &[&uuid])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        on_standby_count, 0,
        "the paused standby already has the write"
    );
    let rebuilds = cache.rebuilds();
    let primary_reads = replicated.reads.reads_on_primary();
    let (status, body) = wait_for_feed_change(&router, &created).await;
    assert_eq!(status, StatusCode::OK);
    let feed: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        feed[0]["uuid"], created["uuid"],
        "the rebuilt page misses the write"
    );
    assert!(cache.rebuilds() > rebuilds);
    assert!(
        replicated.reads.reads_on_primary() > primary_reads,
        "the rebuild did not read from the primary"
    );
    assert!(
        replicated.reads.standbys()[0].serving,
        "the standby counts as fresh enough for other reads"
    );
}

/// Another `cruddur serve` on the same primary, without standbys.
async fn router_on_primary_only(replicated: &Replicated) -> Router {
    let database = db::DatabaseConfig::direct(replicated.primary_settings.clone());
    let service = App::build(service_config(database)).await.unwrap();
    from_test_peer(service.router())
}

/// Reads the feed until its page is no longer the one kept before `created` (the notification
/// arrives asynchronously); bounded by the harness's 20 s.
async fn wait_for_feed_change(router: &Router, created: &Value) -> (StatusCode, Vec<u8>) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(router, "/api/activities/home").await;
        let feed: Value = serde_json::from_slice(&body).unwrap();
        if status != StatusCode::OK || feed[0]["uuid"] == created["uuid"] {
            return (status, body);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the feed never showed the other server's write: {feed}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_web_page_read_again_after_its_own_post_shows_it_even_with_the_standby_behind() {
    let replicated = Replicated::start(Duration::from_secs(120)).await;
    let router = replicated.router();
    replicated.standby.pause_replay(&replicated.primary).await;
    let proof = create_with_proof(&router, "posted from the page").await;
    let page = |after_write: Option<&str>| {
        let mut request = Request::get("/");
        if let Some(value) = after_write {
            request = request.header(api::after_write::AFTER_WRITE_HEADER, value);
        }
        let router = router.clone();
        async move {
            let (status, body) = send(&router, request.body(Body::empty()).unwrap()).await;
            assert_eq!(status, StatusCode::OK);
            String::from_utf8(body).unwrap()
        }
    };
    // An ordinary view may come from the standby, within the (here loose) bound: without the
    // post. The page's own read after posting may not.
    assert!(!page(None).await.contains("posted from the page"));
    assert!(page(Some(&proof)).await.contains("posted from the page"));
    // Asking without a proof of one's own write buys nothing: any client could pin every read
    // to the primary that way.
    for claim in ["1", "9999999999999.forged"] {
        assert!(
            !page(Some(claim)).await.contains("posted from the page"),
            "{claim}"
        );
    }
}

/// Creates a crud as the page does; returns the proof its answer carries in `X-After-Write`.
async fn create_with_proof(router: &Router, message: &str) -> String {
    let body = json!({"message": message, "ttl": "7-days", "user_handle": "andrewbrown"});
    let response = router
        .clone()
        .oneshot(
            Request::post("/api/activities")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()[api::after_write::AFTER_WRITE_HEADER]
        .to_str()
        .unwrap()
        .to_owned()
}
