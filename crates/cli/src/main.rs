//! `cruddur`: Cruddur's backend in one binary — the API server, database administration and the
//! embedded PostgreSQL.

mod app_user_cmd;
#[cfg(not(feature = "aws"))]
mod aws_unavailable;
#[cfg(feature = "aws")]
mod cognito_cmd;
mod db_auth;
mod db_cmd;
mod lambda_cmd;
#[cfg(feature = "aws")]
mod lambda_deploy_cmd;
mod local_cmd;
mod output;
#[cfg(feature = "aws")]
mod rds_args;
#[cfg(feature = "aws")]
mod rds_cmd;
#[cfg(feature = "aws")]
mod rds_network_cmd;
mod serve_args;
mod serve_cmd;
mod target;
mod telemetry;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::target::ConnectionArgs;
use crate::telemetry::LogFormat;

/// mimalloc instead of glibc malloc: the server allocates per request (headers, rows, JSON) and
/// glibc's `malloc`/`free`/`malloc_consolidate` were ~3.5 % of its profile under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "cruddur",
    version,
    about = "Cruddur backend: API server, database tools, embedded PostgreSQL"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Log format on stderr.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Embedded PostgreSQL (or CONNECTION_URL) → migrate → seed if empty → serve the API.
    Up(serve_cmd::UpArgs),
    /// Serve the HTTP API against the configured database.
    Serve(serve_args::ServeArgs),
    /// Database operations (the seed's bin/db-* scripts).
    #[command(subcommand)]
    Db(db_cmd::DbCommand),
    /// The Cognito triggers' Lambda: run locally, deployed, checked, removed.
    #[command(subcommand)]
    Lambda(lambda_cmd::LambdaCommand),
    /// The RDS instance and its security group, through the AWS SDK.
    #[cfg(feature = "aws")]
    #[command(subcommand)]
    Rds(rds_cmd::RdsCommand),
    /// The RDS instance and its security group (not in this build: see `cruddur rds`).
    #[cfg(not(feature = "aws"))]
    Rds(aws_unavailable::AwsArgs),
    /// The Cognito user pool's users and the database's, through the AWS SDK.
    #[cfg(feature = "aws")]
    #[command(subcommand)]
    Cognito(cognito_cmd::CognitoCommand),
    /// The Cognito user pool's users (not in this build: see `cruddur cognito`).
    #[cfg(not(feature = "aws"))]
    Cognito(aws_unavailable::AwsArgs),
    /// Manage the embedded PostgreSQL cluster.
    #[command(subcommand)]
    Local(local_cmd::LocalCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Up(_) | Command::Serve(_) => "info",
        _ => "warn",
    };
    telemetry::init(cli.log_format, default_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => serve_cmd::up(db_auth::resolve(&cli.connection).await?, args).await,
        Command::Serve(args) => {
            serve_cmd::serve(db_auth::resolve(&cli.connection).await?, args).await
        }
        Command::Db(command) => {
            let target = db_auth::resolve(&cli.connection).await?;
            db_cmd::run(command, target).await
        }
        Command::Lambda(command) => lambda_cmd::run(command, &cli.connection).await,
        #[cfg(feature = "aws")]
        Command::Rds(command) => rds_cmd::run(command).await,
        #[cfg(not(feature = "aws"))]
        Command::Rds(_) => Err(aws_unavailable::error("rds")),
        #[cfg(feature = "aws")]
        Command::Cognito(command) => {
            cognito_cmd::run(command, db_auth::resolve(&cli.connection).await?).await
        }
        #[cfg(not(feature = "aws"))]
        Command::Cognito(_) => Err(aws_unavailable::error("cognito")),
        Command::Local(command) => local_cmd::run(command, &cli.connection).await,
    }
}

/// One line on stderr: every cause, outermost first.
#[allow(clippy::print_stderr)]
fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
