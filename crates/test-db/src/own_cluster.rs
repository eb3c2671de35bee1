//! A cluster of a test's own, for tests that stop, crash or restart their database (the
//! process's shared cluster must stay up for every other test). Stopped when dropped; its
//! folder goes with the guard.

use db::DatabaseUrl;
use local_cluster::{Cluster, Durability};
use tokio_postgres::Client;

/// The database every own cluster holds, migrated.
pub const OWN_DATABASE: &str = "cruddur";

#[derive(Debug)]
pub struct OwnCluster {
    pub cluster: Cluster,
    /// The port it first started on (restarts reuse it while it is free).
    pub port: u16,
    _home: tempfile::TempDir,
}

impl OwnCluster {
    /// Starts a cluster with [`OWN_DATABASE`] migrated, and seeded when `seed`.
    pub async fn start(durability: Durability, seed: bool) -> Self {
        let home = tempfile::Builder::new()
            .prefix("cruddur-own-")
            .tempdir_in("/tmp")
            .expect("a folder for the cluster");
        // As root the server runs as the `postgres` user, which must reach the folder.
        std::fs::set_permissions(
            home.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("open the folder to the server user");
        let cluster =
            Cluster::open(&home.path().join("c"), durability).expect("an own cluster folder");
        let port = cluster.start().expect("an own cluster starts").port;
        let own = Self {
            cluster,
            port,
            _home: home,
        };
        let admin = own.connect("postgres").await;
        db::admin::create_database(&admin, OWN_DATABASE)
            .await
            .expect("create the database");
        let mut client = own.connect(OWN_DATABASE).await;
        db::migrations::migrate(&mut client).await.expect("migrate");
        if seed {
            db::seeds::seed(&mut client).await.expect("seed");
        }
        own
    }

    /// The URL of `dbname` on this cluster (its first port).
    pub fn url(&self, dbname: &str) -> DatabaseUrl {
        self.cluster
            .url(self.port, dbname)
            .expect("the cluster's password")
    }

    /// A connection of its own to `dbname`.
    pub async fn connect(&self, dbname: &str) -> Client {
        crate::connect(&self.url(dbname)).await
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
    }
}

/// A streaming standby of an [`OwnCluster`] (`pg_basebackup`, the same server binaries), in
/// the primary's folder. Stopped when dropped.
#[derive(Debug)]
pub struct OwnStandby {
    pub cluster: Cluster,
    pub port: u16,
}

impl OwnCluster {
    /// Copies this cluster into a standby, starts it, and waits until it streams.
    pub async fn start_standby(&self) -> OwnStandby {
        let cluster = self.cluster.standby().expect("a standby folder");
        let port = cluster.start().expect("the standby starts").port;
        let standby = OwnStandby { cluster, port };
        let client = standby.connect(OWN_DATABASE).await;
        crate::wait_until("the standby streams from the primary", async || {
            client
                .query_one(
                    "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'",
                    &[],
                )
                .await
                .is_ok_and(|row| row.get::<_, i64>(0) == 1)
        })
        .await;
        standby
    }
}

impl OwnStandby {
    /// Pauses replay and waits until it has paused: `pg_wal_replay_pause()` only asks, and the
    /// standby stops at the next WAL record it would apply, so records are written on `primary`
    /// (a non-transactional message, nothing a test reads) until it reports `paused`. From then
    /// on nothing written on the primary reaches the standby's data.
    pub async fn pause_replay(&self, primary: &OwnCluster) {
        let on_standby = self.connect(OWN_DATABASE).await;
        on_standby
            .execute("SELECT pg_wal_replay_pause()", &[])
            .await
            .expect("ask the standby to pause");
        let on_primary = primary.connect(OWN_DATABASE).await;
        crate::wait_until("the standby's replay is paused", async || {
            on_primary
                .execute(
                    "SELECT pg_logical_emit_message(false, 'cruddur-test', 'nudge')",
                    &[],
                )
                .await
                .expect("a WAL record on the primary");
            on_standby
                .query_one("SELECT pg_get_wal_replay_pause_state()", &[])
                .await
                .is_ok_and(|row| row.get::<_, String>(0) == "paused")
        })
        .await;
    }

    /// Resumes replay after [`Self::pause_replay`].
    pub async fn resume_replay(&self) {
        self.connect(OWN_DATABASE)
            .await
            .execute("SELECT pg_wal_replay_resume()", &[])
            .await
            .expect("resume the standby's replay");
    }

    pub fn url(&self, dbname: &str) -> DatabaseUrl {
        self.cluster
            .url(self.port, dbname)
            .expect("the standby's password")
    }

    pub async fn connect(&self, dbname: &str) -> Client {
        crate::connect(&self.url(dbname)).await
    }

    /// Takes it down as a crash would (immediate shutdown: connections cut, no checkpoint).
    pub fn kill(&self) {
        assert!(
            self.cluster.crash().expect("the standby goes down"),
            "the standby was not running"
        );
    }

    /// Starts it again on its port (after [`Self::kill`] or a stop).
    pub fn restart(&self) {
        let port = self.cluster.start().expect("the standby starts again").port;
        assert_eq!(port, self.port, "the standby came back on another port");
    }
}

impl Drop for OwnStandby {
    fn drop(&mut self) {
        let _ = self.cluster.stop();
    }
}
