//! Which database a command works on: `--url`, else `PROD_CONNECTION_URL` with `--prod`, else
//! `CONNECTION_URL`, else the embedded cluster (started on demand).
//!
//! Safety rules that follow from where the database is:
//! - `--url` (and every other URL flag) may not carry a password: every user of the machine
//!   can read a process's arguments. Passwords go in `CONNECTION_URL` / `PROD_CONNECTION_URL`, or in `PGPASSWORD`
//!   for a URL without one.
//! - commands that destroy data need `--yes` (or, on a terminal, the database name typed back)
//!   unless the database is the embedded cluster or a server on this machine's loopback — and
//!   always with `--prod`.
//! - the seed's demo users go only into the embedded cluster unless asked for
//!   (`--allow-demo-users`): elsewhere they would squat real people's handles.

use std::io::{BufRead, IsTerminal, Write};

use std::path::PathBuf;

use anyhow::{bail, Context};
use db::{ConnectSettings, DatabaseUrl};
use local_cluster::{Cluster, Durability, APP_DATABASE};

use crate::output;

/// Connection options shared by every command that touches a database.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConnectionArgs {
    /// Connection URL (postgres://user@host:port/db); overrides the environment. It may not
    /// hold a password (the process list shows it): use CONNECTION_URL or PGPASSWORD.
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
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// How connections to a database that is not the embedded cluster log in.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AuthArgs {
    /// `password`: the URL's or PGPASSWORD; `secret`: a Secrets Manager secret (DB_SECRET_ARN),
    /// read again after DB_SECRET_TTL_SECS or when the server refuses it, so a rotation needs no
    /// restart; `iam`: RDS IAM authentication tokens (needs sslmode=verify-full).
    #[arg(long, env = "DB_AUTH", default_value = "password", global = true)]
    pub db_auth: db::credentials::DbAuth,
    /// The secret holding `username` and `password` (optionally `host`, `port`, `dbname`, which
    /// stand in for a missing CONNECTION_URL): an RDS-managed master secret or the app user's.
    #[arg(long, env = "DB_SECRET_ARN", global = true)]
    pub db_secret_arn: Option<String>,
    /// How long a read of the secret is used before it is read again (a refused password
    /// reads it at once).
    #[arg(long, env = "DB_SECRET_TTL_SECS", default_value_t = db::credentials::secret::DEFAULT_SECRET_TTL.as_secs(), value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub db_secret_ttl_secs: u64,
    /// The region IAM tokens are signed for; default: the one in the RDS endpoint's name.
    #[arg(long, env = "DB_IAM_REGION", global = true)]
    pub db_iam_region: Option<String>,
}

/// libpq's variable for a password kept out of the URL; honoured for URLs without one.
pub(crate) const PASSWORD_ENV: &str = "PGPASSWORD";

/// Refuses URLs holding a password given on the command line (every user of the machine can
/// read a process's arguments) for an option that also reads `env`: a value that is not the
/// environment's came from the command line.
pub(crate) fn refuse_password_in_argv(
    value: Option<&str>,
    env: &str,
    flag: &str,
) -> anyhow::Result<()> {
    let Some(value) = value else {
        return Ok(());
    };
    if std::env::var(env).is_ok_and(|from_env| from_env == value) {
        return Ok(());
    }
    let holds_password = value.split_whitespace().any(|one| {
        DatabaseUrl::new(one)
            .parse()
            .is_ok_and(|s| s.pg.get_password().is_some())
    });
    if holds_password {
        bail!(
            "{flag} holds a password, which every user of this machine can read in the process list; set {env} instead, or leave the password out and set PGPASSWORD"
        );
    }
    Ok(())
}

/// `settings` with PGPASSWORD as the password when the URL gives none.
pub(crate) fn with_env_password(mut settings: ConnectSettings) -> ConnectSettings {
    if settings.pg.get_password().is_none() {
        if let Some(password) = std::env::var_os(PASSWORD_ENV) {
            settings.pg.password(password.as_encoded_bytes());
        }
    }
    settings
}

/// The user and password a child program (psql) logs in with.
#[derive(Debug)]
pub(crate) struct Login {
    pub user: String,
    pub password: secrecy::SecretString,
}

/// A resolved database.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub url: DatabaseUrl,
    pub settings: ConnectSettings,
    /// Where the URL came from, for messages.
    pub source: &'static str,
    pub prod: bool,
    /// The embedded cluster, when that is the target.
    pub cluster: Option<Cluster>,
}

impl ConnectionArgs {
    /// The URL configured for this command and where it came from: `--url`, else
    /// `PROD_CONNECTION_URL` with `--prod`, else `CONNECTION_URL`; `None` when there is none.
    pub(crate) fn configured_url(&self) -> anyhow::Result<(Option<String>, &'static str)> {
        // The hidden flags behind the variables obey the rule `--url` does.
        refuse_password_in_argv(
            self.connection_url.as_deref(),
            "CONNECTION_URL",
            "--connection-url",
        )?;
        refuse_password_in_argv(
            self.prod_connection_url.as_deref(),
            "PROD_CONNECTION_URL",
            "--prod-connection-url",
        )?;
        Ok(if let Some(url) = &self.url {
            (Some(url.clone()), "--url")
        } else if self.prod {
            (
                self.prod_connection_url.clone().filter(|u| !u.is_empty()),
                "PROD_CONNECTION_URL",
            )
        } else {
            (
                self.connection_url.clone().filter(|u| !u.is_empty()),
                "CONNECTION_URL",
            )
        })
    }

    /// The database the URLs (or the embedded cluster) name, logging in with the URL's
    /// password. `fallback` is a URL to use when none is configured (a secret's host).
    pub(crate) fn resolve_url(&self, fallback: Option<&str>) -> anyhow::Result<Target> {
        let (raw, source) = match (self.configured_url()?, fallback) {
            ((None, _), Some(fallback)) => (Some(fallback.to_owned()), "DB_SECRET_ARN's host"),
            ((None, _), None) if self.prod => bail!("--prod needs PROD_CONNECTION_URL to be set"),
            (configured, _) => configured,
        };
        match raw {
            Some(raw) => {
                let url = DatabaseUrl::new(raw);
                let settings = url
                    .parse()
                    .with_context(|| format!("{source} is not usable"))?;
                // Asked of the parsed settings: every way a URL can carry a password counts.
                if source == "--url" && settings.pg.get_password().is_some() {
                    bail!(
                        "--url holds a password, which every user of this machine can read in the process list; put the URL in CONNECTION_URL instead, or leave the password out and set PGPASSWORD"
                    );
                }
                let settings = with_env_password(settings);
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
    pub(crate) fn cluster(&self) -> anyhow::Result<Cluster> {
        let cluster = Cluster::open(&self.home, Durability::Durable)?;
        if let Some(why) = cluster.relocated() {
            tracing::warn!("{why}");
        }
        Ok(cluster)
    }
}

impl Target {
    /// Settings for the server's maintenance database (CREATE/DROP DATABASE run there).
    pub(crate) fn maintenance(&self) -> ConnectSettings {
        self.settings.with_dbname("postgres")
    }

    pub(crate) fn dbname(&self) -> &str {
        self.settings.dbname()
    }

    /// The embedded cluster or a server on this machine's loopback: a developer's own.
    pub(crate) fn is_local(&self) -> bool {
        self.cluster.is_some() || self.settings.is_loopback_only()
    }

    /// What a child program logs in with: the provider's credentials, else the URL's (or
    /// PGPASSWORD's) password; `None` when there is no password at all.
    pub(crate) async fn login(&self) -> anyhow::Result<Option<Login>> {
        let settings = &self.settings;
        if let Some(provider) = &settings.credentials {
            let (host, port) = settings.login_host();
            let target = db::credentials::LoginTarget {
                host: &host,
                port,
                user: settings.pg.get_user(),
            };
            let first = provider
                .credentials(target, false)
                .await?
                .into_iter()
                .next();
            return Ok(first.map(|c| Login {
                user: c.user,
                password: c.password,
            }));
        }
        let Some(password) = settings.pg.get_password() else {
            return Ok(None);
        };
        let password = String::from_utf8(password.to_vec())
            .map_err(|_| anyhow::anyhow!("the password is not UTF-8 text"))?;
        Ok(Some(Login {
            user: settings.pg.get_user().unwrap_or_default().to_owned(),
            password: password.into(),
        }))
    }

    /// Another URL of the same deployment (a standby, the primary behind a pooler), logging in
    /// as this target does: with its credentials provider, else PGPASSWORD.
    pub(crate) fn same_login(&self, settings: ConnectSettings) -> ConnectSettings {
        match &self.settings.credentials {
            Some(provider) => settings.with_credentials(provider.clone()),
            None => with_env_password(settings),
        }
    }

    /// Refuses a destructive command on production without `--yes`, and on a database not on
    /// this machine without `--yes` or, on a terminal, the database name typed back.
    pub(crate) fn confirm_destructive(&self, what: &str, yes: bool) -> anyhow::Result<()> {
        if yes || (!self.prod && self.is_local()) {
            return Ok(());
        }
        let shown = self.url.masked();
        if self.prod {
            bail!("refusing to {what} on production ({shown}) without --yes");
        }
        let place = "a database that is not on this machine";
        if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            let mut stderr = std::io::stderr();
            write!(
                stderr,
                "About to {what} on {place} ({shown}). Type the database name to go on: "
            )?;
            stderr.flush()?;
            let mut typed = String::new();
            std::io::stdin().lock().read_line(&mut typed)?;
            if typed.trim() == self.dbname() {
                return Ok(());
            }
            bail!("not confirmed: the name typed was not {}", self.dbname());
        }
        bail!("refusing to {what} on {place} ({shown}) without --yes")
    }

    /// Refuses to add the seed's demo users outside the embedded cluster unless asked.
    pub(crate) fn allows_demo_users(&self, asked: bool) -> bool {
        asked || self.cluster.is_some()
    }
}
