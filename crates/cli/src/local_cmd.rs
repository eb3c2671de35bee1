//! `cruddur local start|stop|status`: the embedded cluster.

use crate::output;
use crate::target::ConnectionArgs;

#[derive(Debug, clap::Subcommand)]
pub enum LocalCommand {
    /// Start the embedded PostgreSQL (initializing it on first use), or report the running one.
    Start,
    /// Stop the embedded PostgreSQL (fast shutdown; data is kept).
    Stop,
    /// Whether the embedded PostgreSQL runs, where, and its (masked) URL.
    Status,
}

pub fn run(command: LocalCommand, args: &ConnectionArgs) -> anyhow::Result<()> {
    let cluster = args.cluster()?;
    match command {
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
