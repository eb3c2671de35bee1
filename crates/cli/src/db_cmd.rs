//! `cruddur db …`: the seed's `bin/db-*` scripts as subcommands.

use std::path::PathBuf;

use anyhow::{bail, Context};
use db::admin::{self, DropOutcome, Session};
use db::{migrations, seeds};
use tokio_postgres::Client;

use crate::output;
use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum DbCommand {
    /// Open psql on the database (the password goes through a private password file, never its
    /// command line or environment).
    Connect,
    /// Create the database named in the URL (connects to the server's `postgres` database).
    Create,
    /// Drop the database named in the URL; fails while sessions are open unless --force.
    Drop(DropArgs),
    /// Apply pending migrations (same as `migrate`; never drops data).
    SchemaLoad,
    /// Apply pending migrations.
    Migrate,
    /// Applied and pending migrations, row counts, and handles that break the handle rule.
    Status,
    /// Load the seed users and crud (idempotent); --demo N also adds N generated cruds.
    Seed(SeedArgs),
    /// List client sessions (pid, user, db, client, app, state) on the server.
    Sessions,
    /// Terminate every other session on the database.
    KillSessions(ConfirmArgs),
    /// Drop, create, migrate and seed: a fresh database.
    Setup(SetupArgs),
    /// Delete expired cruds (with their replies) in bounded batches.
    Purge(PurgeArgs),
    /// Make the service's own login role: rows of the tables, no DDL, no superuser; with
    /// --secret its generated password goes to Secrets Manager (run as the owner).
    CreateAppUser(crate::app_user_cmd::CreateAppUserArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PurgeArgs {
    /// Cruds deleted per batch (each batch is one short transaction).
    #[arg(long, default_value_t = db::activities::DEFAULT_PURGE_BATCH, value_parser = clap::value_parser!(i64).range(1..=100_000))]
    pub batch: i64,
    /// Most batches in this run; the rest waits for the next one.
    #[arg(long, default_value_t = db::activities::DEFAULT_PURGE_MAX_BATCHES, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batches: u64,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConfirmArgs {
    /// Confirm a destructive command on production (--prod) or on a database that is not the
    /// embedded cluster nor on this machine's loopback.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DemoUsersArgs {
    /// Add the seed's demo users (andrewbrown, bayko, and --demo's generated ones) to a database
    /// that is not the embedded cluster; without it they go only there, so that they never take
    /// real people's handles.
    #[arg(long)]
    pub allow_demo_users: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SetupArgs {
    #[command(flatten)]
    pub drop: DropArgs,
    #[command(flatten)]
    pub demo_users: DemoUsersArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DropArgs {
    /// End open sessions on the database instead of refusing.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub confirm: ConfirmArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SeedArgs {
    /// Also add this many generated cruds over generated users (for benchmarks).
    #[arg(long, value_name = "N")]
    pub demo: Option<u64>,
    #[command(flatten)]
    pub demo_users: DemoUsersArgs,
}

pub(crate) async fn run(command: DbCommand, target: Target) -> anyhow::Result<()> {
    let manages_database = matches!(
        command,
        DbCommand::Create | DbCommand::Drop(_) | DbCommand::Setup(_) | DbCommand::Sessions
    );
    if target.cluster.is_some() && !manages_database {
        // The embedded cluster is ours: its database simply exists when a command needs it.
        ensure_database(&target).await?;
    }
    match command {
        DbCommand::Connect => connect(&target).await,
        DbCommand::CreateAppUser(args) => crate::app_user_cmd::run(&target, args).await,
        DbCommand::Create => {
            output::heading("db-create");
            create(&target).await
        }
        DbCommand::Drop(args) => {
            output::heading("db-drop");
            target.confirm_destructive("drop the database", args.confirm.yes)?;
            drop_db(&target, args.force).await
        }
        DbCommand::SchemaLoad => {
            output::heading("db-schema-load");
            migrate(&target).await
        }
        DbCommand::Migrate => {
            output::heading("db-migrate");
            migrate(&target).await
        }
        DbCommand::Status => {
            output::heading("db-status");
            status(&target).await
        }
        DbCommand::Seed(args) => {
            output::heading("db-seed");
            if !target.allows_demo_users(args.demo_users.allow_demo_users) {
                anyhow::bail!(
                    "not seeding {}: it is not the embedded cluster, and the seed's demo users would take real handles there; pass --allow-demo-users to add them anyway",
                    target.url.masked()
                );
            }
            seed(&target, args.demo).await
        }
        DbCommand::Sessions => {
            output::heading("db-sessions");
            sessions(&target).await
        }
        DbCommand::KillSessions(args) => {
            output::heading("db-kill-sessions");
            target.confirm_destructive("terminate sessions", args.yes)?;
            kill_sessions(&target).await
        }
        DbCommand::Purge(args) => {
            output::heading("db-purge");
            target.confirm_destructive("delete expired cruds", args.confirm.yes)?;
            purge(&target, args.batch, args.max_batches).await
        }
        DbCommand::Setup(args) => {
            output::heading("db-setup");
            target.confirm_destructive("drop and recreate the database", args.drop.confirm.yes)?;
            let demo_users = target.allows_demo_users(args.demo_users.allow_demo_users);
            setup(&target, args.drop.force, demo_users).await
        }
    }
}

/// Drop (unless absent), create, migrate, and seed when `demo_users` allows it.
pub(crate) async fn setup(target: &Target, force: bool, demo_users: bool) -> anyhow::Result<()> {
    drop_db(target, force).await?;
    create(target).await?;
    migrate(target).await?;
    if demo_users {
        seed(target, None).await
    } else {
        skip_seed(target);
        Ok(())
    }
}

async fn purge(target: &Target, batch: i64, max_batches: u64) -> anyhow::Result<()> {
    let pool = db::pool::build_pool(
        &target.settings,
        &db::PoolSettings {
            max_size: 1,
            // A batch may take a while on a big table; the default cap is for requests.
            statement_timeout: std::time::Duration::from_secs(60),
            ..db::PoolSettings::default()
        },
    )?;
    let report = db::activities::purge_expired(&pool, batch, max_batches)
        .await
        .with_context(|| format!("cannot purge {}", target.url.masked()))?;
    output::line(format!(
        "purged {} expired crud(s) in {} batch(es), {} idempotency key(s) older than 24 h and {} ended sign-in session(s){}",
        report.cruds,
        report.batches,
        report.keys,
        report.sessions,
        if report.more_left {
            "; more are left: run it again"
        } else {
            ""
        }
    ));
    Ok(())
}

/// Says why no demo users were added (outside the embedded cluster, unless asked).
pub(crate) fn skip_seed(target: &Target) {
    output::line(format!(
        "seed: skipped ({} is not the embedded cluster; --allow-demo-users adds the demo users)",
        target.url.masked()
    ));
}

async fn open(target: &Target) -> anyhow::Result<Client> {
    db::pool::connect(&target.settings)
        .await
        .with_context(|| format!("cannot connect to {}", target.url.masked()))
}

async fn open_maintenance(target: &Target) -> anyhow::Result<Client> {
    db::pool::connect(&target.maintenance())
        .await
        .with_context(|| format!("cannot connect to the server of {}", target.url.masked()))
}

async fn connect(target: &Target) -> anyhow::Result<()> {
    let psql = target
        .cluster
        .as_ref()
        .map(|c| c.binaries().tool("psql"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("psql"));
    let mut url =
        url::Url::parse(target.url.expose()).context("the URL cannot be passed to psql")?;
    // Cannot fail for a URL that parsed with a host.
    let _ = url.set_password(None);
    // A `password=` parameter would show in the process list just the same.
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| key != "password")
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    let login = target.login().await?;
    if let Some(login) = login.as_ref().filter(|l| !l.user.is_empty()) {
        // The secret's or the URL's user: the provider's wins, as it does for our connections.
        let _ = url.set_username(&login.user);
    }
    output::line(format!("connecting to {}", target.url.masked()));
    // The password reaches psql in a password file only it and we can read, removed when it
    // exits — never in its arguments or its environment (both readable by others: the process
    // list, /proc/PID/environ for the same user, crash reports, child processes of psql).
    let passfile = login.as_ref().map(passfile_for).transpose()?;
    let mut cmd = tokio::process::Command::new(&psql);
    // Our environment holds the URLs with their passwords and the AWS keys: psql gets only what a
    // terminal session needs.
    cmd.arg(url.as_str())
        .env_clear()
        .envs(std::env::vars_os().filter(|(name, _)| psql_may_see(name)));
    if let Some(file) = &passfile {
        cmd.env("PGPASSFILE", file.path());
    }
    // psql handles Ctrl-C itself (it cancels the query); we must outlive it to remove the file.
    let _interrupts = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot take Ctrl-C while psql runs")?;
    let status = match cmd.status().await {
        Ok(status) => status,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("psql not found; install it (Debian/Ubuntu: apt-get install postgresql-client)")
        }
        Err(e) => return Err(e).with_context(|| format!("cannot run {}", psql.display())),
    };
    drop(passfile);
    if !status.success() {
        bail!("psql ended with {status}");
    }
    Ok(())
}

/// The variables of ours psql is given: terminal, locale, pager and editor, psql's own settings,
/// and the CA bundle. Never a URL, a password or an AWS key.
fn psql_may_see(name: &std::ffi::OsStr) -> bool {
    const ALLOWED: [&str; 17] = [
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "TERM",
        "LANG",
        "LANGUAGE",
        "TZ",
        "COLUMNS",
        "LINES",
        "PAGER",
        "PSQL_PAGER",
        "PSQL_HISTORY",
        "PSQLRC",
        "EDITOR",
        "VISUAL",
        "PGSSLROOTCERT",
    ];
    name.to_str()
        .is_some_and(|n| ALLOWED.contains(&n) || n.starts_with("LC_"))
}

/// A private password file (mode 0600) matching any host, port, database and user: it exists
/// for one psql run.
fn passfile_for(login: &crate::target::Login) -> anyhow::Result<tempfile::NamedTempFile> {
    use secrecy::ExposeSecret;
    use std::io::Write;
    let password = login.password.expose_secret();
    if password.contains(['\n', '\r']) {
        bail!("the password holds a line break, which a password file cannot carry");
    }
    // libpq's escapes in a password file: backslash and colon.
    let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
    let mut file = tempfile::Builder::new()
        .prefix("cruddur-pgpass-")
        .tempfile()
        .context("cannot create a password file for psql")?;
    writeln!(file, "*:*:*:*:{escaped}").context("cannot write the password file for psql")?;
    file.flush()?;
    Ok(file)
}

/// Creates the target database when missing, quietly.
pub(crate) async fn ensure_database(target: &Target) -> anyhow::Result<()> {
    let client = open_maintenance(target).await?;
    if admin::create_database(&client, target.dbname()).await? {
        output::line(format!("created database {}", target.dbname()));
    }
    Ok(())
}

async fn create(target: &Target) -> anyhow::Result<()> {
    let client = open_maintenance(target).await?;
    let name = target.dbname();
    if admin::create_database(&client, name).await? {
        output::line(format!("created database {name}"));
    } else {
        output::line(format!("database {name} already exists"));
    }
    Ok(())
}

async fn drop_db(target: &Target, force: bool) -> anyhow::Result<()> {
    let name = target.dbname();
    if matches!(name, "postgres" | "template0" | "template1") {
        bail!("refusing to drop the system database {name}");
    }
    let client = open_maintenance(target).await?;
    match admin::drop_database(&client, name, force).await? {
        DropOutcome::Dropped => output::line(format!("dropped database {name}")),
        DropOutcome::DidNotExist => {
            output::line(format!("database {name} does not exist; nothing to drop"))
        }
        DropOutcome::SessionsOpen(sessions) => {
            let list: Vec<String> = sessions.iter().map(describe_session).collect();
            bail!(
                "database {name} has {} open session(s) ({}); close them, run `cruddur db kill-sessions`, or pass --force",
                sessions.len(),
                list.join("; ")
            );
        }
    }
    Ok(())
}

fn describe_session(s: &Session) -> String {
    format!(
        "pid {} app {} from {}",
        s.pid,
        s.app.as_deref().filter(|a| !a.is_empty()).unwrap_or("-"),
        s.client.as_deref().unwrap_or("local socket")
    )
}

pub(crate) async fn migrate(target: &Target) -> anyhow::Result<()> {
    let mut client = open(target).await?;
    let applied = migrations::migrate(&mut client).await?;
    if applied.is_empty() {
        output::line("schema is up to date; nothing to apply");
    } else {
        for name in applied {
            output::line(format!("applied {name}"));
        }
    }
    Ok(())
}

async fn status(target: &Target) -> anyhow::Result<()> {
    let client = open(target).await?;
    output::line(format!(
        "database: {} ({})",
        target.url.masked(),
        target.source
    ));
    let states = migrations::status(&client).await?;
    let rows: Vec<Vec<String>> = states
        .iter()
        .map(|m| {
            vec![
                format!("V{}", m.version),
                m.name.clone(),
                m.applied_on
                    .clone()
                    .map_or_else(|| "pending".into(), |on| format!("applied {on}")),
            ]
        })
        .collect();
    output::table(&["version", "name", "state"], &rows);
    let pending = states.iter().filter(|m| m.applied_on.is_none()).count();
    output::line(format!(
        "{} applied, {pending} pending",
        states.len() - pending
    ));
    match admin::count_rows(&client).await? {
        Some(counts) => {
            output::line(format!(
                "rows: users {}, activities {}",
                counts.users, counts.activities
            ));
            let odd = admin::nonconforming_handles(&client).await?;
            if !odd.is_empty() {
                output::line(format!(
                    "handles breaking the handle rule ({}; at most {} characters), left as they are: {}",
                    domain::HANDLE_RULE,
                    domain::MAX_HANDLE_CHARS,
                    odd.iter()
                        .map(|h| output::shown_handle(Some(h)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        None => output::line("rows: schema not loaded yet (run `cruddur db migrate`)"),
    }
    Ok(())
}

pub(crate) async fn seed(target: &Target, demo: Option<u64>) -> anyhow::Result<()> {
    let mut client = open(target).await?;
    let report = seeds::seed(&mut client)
        .await
        .context("seeding failed (has the schema been loaded? run `cruddur db migrate`)")?;
    output::line(format!(
        "seed: {} user(s) and {} crud(s) added",
        report.users, report.activities
    ));
    if let Some(n) = demo {
        let started = std::time::Instant::now();
        let report = seeds::seed_demo(&mut client, n).await?;
        output::line(format!(
            "demo: {} user(s) and {} crud(s) added in {:.1} s",
            report.users,
            report.activities,
            started.elapsed().as_secs_f64()
        ));
    }
    Ok(())
}

async fn sessions(target: &Target) -> anyhow::Result<()> {
    let client = open_maintenance(target).await?;
    let sessions = admin::list_sessions(&client, None).await?;
    let cell = |v: &Option<String>| v.clone().unwrap_or_default();
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            vec![
                s.pid.to_string(),
                cell(&s.user),
                cell(&s.db),
                cell(&s.client),
                cell(&s.app),
                cell(&s.state),
            ]
        })
        .collect();
    output::table(&["pid", "user", "db", "client", "app", "state"], &rows);
    output::line(format!("{} session(s)", rows.len()));
    Ok(())
}

async fn kill_sessions(target: &Target) -> anyhow::Result<()> {
    let client = open_maintenance(target).await?;
    let ended = admin::kill_sessions(&client, target.dbname()).await?;
    output::line(format!(
        "terminated {ended} session(s) on {}",
        target.dbname()
    ));
    Ok(())
}
