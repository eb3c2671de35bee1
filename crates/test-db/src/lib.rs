//! Test harness: one embedded cluster per test process (removed when the process ends), a
//! migrated template database made once, and a fresh database per test, dropped when the test
//! passes. Tests never need a server they did not start.

pub mod cognito;
mod own_cluster;
pub mod reliability;

pub use own_cluster::{OwnCluster, OWN_DATABASE};

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use db::{ConnectSettings, DatabaseUrl, Pool, PoolSettings};
use local_cluster::EphemeralCluster;
use tokio_postgres::Client;

const TEMPLATE: &str = "cruddur_template";
const MAINTENANCE: &str = "postgres";

struct Shared {
    cluster: EphemeralCluster,
    next: AtomicU32,
}

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
        Shared {
            cluster,
            next: AtomicU32::new(0),
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
        let pool = db::pool::build_pool(&settings, &PoolSettings::default()).expect("test pool");
        Self {
            name,
            url,
            settings,
            pool,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn settings(&self) -> &ConnectSettings {
        &self.settings
    }

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
