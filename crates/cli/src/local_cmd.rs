//! `cruddur local start|stop|status`: the embedded cluster.

use crate::output;
use crate::target::ConnectionArgs;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum LocalCommand {
    /// Start the embedded PostgreSQL (initializing it on first use), or report the running one.
    Start,
    /// Stop the embedded PostgreSQL (fast shutdown; data is kept).
    Stop,
    /// Whether the embedded PostgreSQL runs, where, and its (masked) URL.
    Status,
    /// A streaming standby of the embedded cluster, for reads (READ_CONNECTION_URL).
    #[command(subcommand)]
    Standby(StandbyCommand),
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum StandbyCommand {
    /// Start the standby, first copying the primary with pg_basebackup if there is no copy yet
    /// (the primary is started if it is not running).
    Start {
        /// Throw the standby's copy away and copy the primary again (after it fell too far
        /// behind to catch up).
        #[arg(long)]
        fresh: bool,
    },
    /// Stop the standby (fast shutdown; its copy is kept).
    Stop,
    /// Whether the standby runs, its (masked) URL, and how far it has replayed.
    Status,
}

pub(crate) async fn run(command: LocalCommand, args: &ConnectionArgs) -> anyhow::Result<()> {
    let cluster = args.cluster()?;
    match command {
        LocalCommand::Standby(command) => return standby(command, &cluster).await,
        LocalCommand::Start => {
            output::heading("local-start");
            let running = cluster.start()?;
            let verb = if running.started_now {
                "started"
            } else {
                "already running"
            };
            output::line(format!("{verb} on 127.0.0.1:{}", running.port));
            output::line(format!("data: {}", cluster.data_dir().display()));
            output::line(format!(
                "url:  {}",
                cluster
                    .url(running.port, local_cluster::APP_DATABASE)?
                    .masked()
            ));
        }
        LocalCommand::Stop => {
            output::heading("local-stop");
            if cluster.stop()? {
                output::line("stopped");
            } else {
                output::line("not running");
            }
        }
        LocalCommand::Status => {
            output::heading("local-status");
            output::line(format!("data: {}", cluster.data_dir().display()));
            if let Some(why) = cluster.relocated() {
                output::line(format!("note: {why}"));
            }
            match cluster.running_port()? {
                Some(port) => {
                    output::line(format!("running on 127.0.0.1:{port}"));
                    output::line(format!(
                        "url:  {}",
                        cluster.url(port, local_cluster::APP_DATABASE)?.masked()
                    ));
                }
                None if cluster.is_initialized() => output::line("stopped"),
                None => output::line("not initialized (`cruddur local start` creates it)"),
            }
        }
    }
    Ok(())
}

async fn standby(command: StandbyCommand, primary: &local_cluster::Cluster) -> anyhow::Result<()> {
    let standby = primary.standby()?;
    match command {
        StandbyCommand::Start { fresh } => {
            output::heading("local-standby-start");
            let primary_running = primary.start()?;
            if primary_running.started_now {
                output::line(format!(
                    "started the primary on 127.0.0.1:{}",
                    primary_running.port
                ));
            }
            if fresh {
                standby.forget_copy()?;
                output::line("removed the standby's old copy");
            }
            let copying = !standby.is_initialized();
            if copying {
                output::line("copying the primary (pg_basebackup)…");
            }
            let running = standby.start()?;
            let verb = if running.started_now {
                "started"
            } else {
                "already running"
            };
            output::line(format!("{verb} on 127.0.0.1:{}", running.port));
            output::line(format!("data: {}", standby.data_dir().display()));
            output::line(format!(
                "url:  {}",
                standby
                    .url(running.port, local_cluster::APP_DATABASE)?
                    .masked()
            ));
            output::line("reads go to it with `cruddur up --read-local-standby`");
        }
        StandbyCommand::Stop => {
            output::heading("local-standby-stop");
            if standby.stop()? {
                output::line("stopped");
            } else {
                output::line("not running");
            }
        }
        StandbyCommand::Status => {
            output::heading("local-standby-status");
            output::line(format!("data: {}", standby.data_dir().display()));
            match standby.running_port()? {
                Some(port) => {
                    let url = standby.url(port, local_cluster::APP_DATABASE)?;
                    output::line(format!("running on 127.0.0.1:{port}"));
                    output::line(format!("url:  {}", url.masked()));
                    // The maintenance database: the app's may not exist yet.
                    match replay_report(&standby.url(port, "postgres")?).await {
                        Ok(lines) => lines.into_iter().for_each(output::line),
                        Err(e) => output::line(format!("replay: unknown ({e})")),
                    }
                }
                None if standby.is_initialized() => output::line("stopped"),
                None => {
                    output::line("not made yet (`cruddur local standby start` copies the primary)")
                }
            }
        }
    }
    Ok(())
}

/// What the standby says of its replay.
async fn replay_report(url: &db::DatabaseUrl) -> anyhow::Result<Vec<String>> {
    let client = db::pool::connect(&url.parse()?).await?;
    let replay = db::admin::standby_replay(&client).await?;
    if !replay.in_recovery {
        return Ok(vec![
            "role: NOT in recovery (promoted): it no longer follows the primary".to_owned(),
        ]);
    }
    Ok(vec![
        format!(
            "role: standby, WAL receiver {}",
            replay.receiver.as_deref().unwrap_or("not running")
        ),
        format!(
            "replayed up to {}",
            replay.replayed.as_deref().unwrap_or("nothing yet")
        ),
        match replay.since_last_commit_secs {
            Some(secs) => format!(
                "last replayed commit: {secs:.1} s ago (an idle primary makes this grow too)"
            ),
            None => "last replayed commit: none since it started".to_owned(),
        },
    ])
}
