//! Test harness: one embedded cluster per test process (removed when the process ends), a
//! migrated template database made once, and a fresh database per test, dropped when the test
//! passes. Tests never need a server they did not start.

pub mod cognito;
pub mod moto;
mod own_cluster;
pub mod pgbouncer;
pub mod reliability;

pub use own_cluster::{OwnCluster, OwnStandby, OWN_DATABASE};

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use db::{ConnectSettings, DatabaseUrl, Pool};
use local_cluster::EphemeralCluster;
use tokio_postgres::Client;

const TEMPLATE: &str = "cruddur_template";
const MAINTENANCE: &str = "postgres";

struct Shared {
    cluster: EphemeralCluster,
    next: AtomicU32,
    /// Set when `CRUDDUR_TEST_POOLER=pgbouncer`: test pools go through it.
    pooler: Option<pgbouncer::PgBouncer>,
}

/// The environment variable that puts a PgBouncer in transaction mode between every test
/// database's pool ([`TestDb::pool`]) and PostgreSQL.
pub const POOLER_ENV: &str = "CRUDDUR_TEST_POOLER";

static SHARED: OnceLock<Shared> = OnceLock::new();

fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        let cluster = EphemeralCluster::start()
            .unwrap_or_else(|e| panic!("test harness cannot start PostgreSQL: {e}"));
        let admin = cluster.url(MAINTENANCE).expect("cluster password");
        let template = cluster.url(TEMPLATE).expect("cluster password");
        on_own_runtime(async move {
            let client = connect(&admin).await;
            db::admin::create_database(&client, TEMPLATE)
                .await
                .expect("create the template database");
            let mut client = connect(&template).await;
            db::migrations::migrate(&mut client)
                .await
                .expect("migrate the template database");
        });
        let pooler = match std::env::var(POOLER_ENV).as_deref() {
            Ok("pgbouncer") => Some(pgbouncer::PgBouncer::start(
                &cluster.cluster().run_dir(),
                cluster.port(),
            )),
            Ok("") | Err(_) => None,
            Ok(other) => panic!("{POOLER_ENV}={other}: the only pooler is `pgbouncer`"),
        };
        Shared {
            cluster,
            next: AtomicU32::new(0),
            pooler,
        }
    })
}

/// The cluster shared by this test process.
pub fn cluster() -> &'static EphemeralCluster {
    &shared().cluster
}

/// Runs a future to completion on a private runtime (usable from sync code and from `Drop`,
/// even inside another runtime).
fn on_own_runtime<F: std::future::Future<Output = ()> + Send + 'static>(future: F) {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("test runtime")
            .block_on(future);
    })
    .join()
    .expect("harness thread panicked");
}

/// Polls `check` every 50 ms until it holds; panics naming `what` after 20 s.
pub async fn wait_until(what: &str, check: impl AsyncFn() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after 20 s waiting until {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn connect(url: &DatabaseUrl) -> Client {
    let settings = url.parse().expect("harness URL parses");
    db::pool::connect(&settings)
        .await
        .unwrap_or_else(|e| panic!("harness cannot connect: {e}"))
}

/// A database of its own for one test.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: DatabaseUrl,
    settings: ConnectSettings,
    service: db::DatabaseConfig,
    pool: Pool,
}

impl TestDb {
    /// A fresh database with the current schema (copied from the migrated template).
    pub async fn new() -> Self {
        Self::create(Some(TEMPLATE)).await
    }

    /// A fresh database with no schema at all (for migration tests).
    pub async fn empty() -> Self {
        Self::create(None).await
    }

    async fn create(template: Option<&str>) -> Self {
        let shared = shared();
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        let name = format!("test_{}_{n}", std::process::id());
        let admin = shared.cluster.url(MAINTENANCE).expect("cluster password");
        let client = connect(&admin).await;
        let statement = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name} TEMPLATE template0"),
        };
        client
            .batch_execute(&statement)
            .await
            .unwrap_or_else(|e| panic!("create test database {name}: {e}"));
        let url = shared.cluster.url(&name).expect("cluster password");
        let settings = url.parse().expect("harness URL parses");
        let mut service = db::DatabaseConfig::direct(settings.clone());
        if let Some(pooler) = &shared.pooler {
            service.primary = DatabaseUrl::new(format!(
                "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
                pooler.port()
            ))
            .parse()
            .expect("pooler URL parses");
            service.pool.pooler = db::Pooler::Transaction;
        }
        let pool = db::pool::build_pool(&service.primary, &service.pool).expect("test pool");
        Self {
            name,
            url,
            settings,
            service,
            pool,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The database itself, never through a pooler (for LISTEN and admin work).
    pub fn settings(&self) -> &ConnectSettings {
        &self.settings
    }

    /// The database section of a service's config for this database: its pool through
    /// PgBouncer in transaction mode when [`POOLER_ENV`] says so, `LISTEN` on the database
    /// itself, every other setting its default.
    pub fn service_config(&self) -> db::DatabaseConfig {
        self.service.clone()
    }

    /// The database's pool: through PgBouncer in transaction mode when [`POOLER_ENV`] says so,
    /// else direct.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A connection of its own, outside the pool.
    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.pool.close();
        if std::thread::panicking() {
            // Kept for inspection until the process ends and the cluster is removed.
            return;
        }
        let name = self.name.clone();
        let admin = shared().cluster.url(MAINTENANCE).expect("cluster password");
        on_own_runtime(async move {
            let client = connect(&admin).await;
            if let Err(e) = db::admin::drop_database(&client, &name, true).await {
                tracing::warn!(database = %name, error = %e, "could not drop a test database");
            }
        });
    }
}
