//! Which database a command works on: `--url`, else `PROD_CONNECTION_URL` with `--prod`, else
//! `CONNECTION_URL`, else the embedded cluster (started on demand).

use std::path::PathBuf;

use anyhow::{bail, Context};
use db::{ConnectSettings, DatabaseUrl};
use local_cluster::{Cluster, Durability, APP_DATABASE};

use crate::output;

/// Connection options shared by every command that touches a database.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectionArgs {
    /// Connection URL (postgres://user:password@host:port/db); overrides the environment.
    #[arg(long, global = true, hide_env_values = true)]
    pub url: Option<String>,
    /// Use PROD_CONNECTION_URL (destructive commands then need --yes).
    #[arg(long, global = true)]
    pub prod: bool,
    /// Connection URL used when neither --url nor --prod is given.
    #[arg(
        long = "connection-url",
        env = "CONNECTION_URL",
        hide_env_values = true,
        hide = true,
        global = true
    )]
    pub connection_url: Option<String>,
    /// Production connection URL, used with --prod.
    #[arg(
        long = "prod-connection-url",
        env = "PROD_CONNECTION_URL",
        hide_env_values = true,
        hide = true,
        global = true
    )]
    pub prod_connection_url: Option<String>,
    /// Folder of the embedded cluster used when no URL is configured.
    #[arg(long, env = "CRUDDUR_HOME", default_value = ".cruddur", global = true)]
    pub home: PathBuf,
}

/// A resolved database.
#[derive(Debug)]
pub struct Target {
    pub url: DatabaseUrl,
    pub settings: ConnectSettings,
    /// Where the URL came from, for messages.
    pub source: &'static str,
    pub prod: bool,
    /// The embedded cluster, when that is the target.
    pub cluster: Option<Cluster>,
}

impl ConnectionArgs {
    pub fn resolve(&self) -> anyhow::Result<Target> {
        let (raw, source) = if let Some(url) = &self.url {
            (Some(url.clone()), "--url")
        } else if self.prod {
            match &self.prod_connection_url {
                Some(url) => (Some(url.clone()), "PROD_CONNECTION_URL"),
                None => bail!("--prod needs PROD_CONNECTION_URL to be set"),
            }
        } else {
            (
                self.connection_url.clone().filter(|u| !u.is_empty()),
                "CONNECTION_URL",
            )
        };
        match raw {
            Some(raw) => {
                let url = DatabaseUrl::new(raw);
                let settings = url
                    .parse()
                    .with_context(|| format!("{source} is not usable"))?;
                Ok(Target {
                    url,
                    settings,
                    source,
                    prod: self.prod,
                    cluster: None,
                })
            }
            None => self.embedded(),
        }
    }

    fn embedded(&self) -> anyhow::Result<Target> {
        let cluster = self.cluster()?;
        let running = cluster
            .start()
            .context("cannot start the embedded PostgreSQL")?;
        if running.started_now {
            output::line(format!(
                "started the embedded PostgreSQL on 127.0.0.1:{} ({})",
                running.port,
                cluster.data_dir().display()
            ));
        }
        let url = cluster.url(running.port, APP_DATABASE)?;
        let settings = url.parse()?;
        Ok(Target {
            url,
            settings,
            source: "embedded cluster",
            prod: false,
            cluster: Some(cluster),
        })
    }

    /// The embedded cluster folder (not started).
    pub fn cluster(&self) -> anyhow::Result<Cluster> {
        let cluster = Cluster::open(&self.home, Durability::Durable)?;
        if let Some(why) = cluster.relocated() {
            tracing::warn!("{why}");
        }
        Ok(cluster)
    }
}

impl Target {
    /// Settings for the server's maintenance database (CREATE/DROP DATABASE run there).
    pub fn maintenance(&self) -> ConnectSettings {
        self.settings.with_dbname("postgres")
    }

    pub fn dbname(&self) -> &str {
        self.settings.dbname()
    }

    /// Refuses a destructive command on production without `--yes`.
    pub fn confirm_destructive(&self, what: &str, yes: bool) -> anyhow::Result<()> {
        if self.prod && !yes {
            bail!(
                "refusing to {what} on production ({}) without --yes",
                self.url.masked()
            );
        }
        Ok(())
    }
}
