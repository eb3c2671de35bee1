//! `cruddur lambda …`: the Cognito triggers' handler (pre sign-up or post confirmation, by the
//! event's `triggerSource`) run locally against the configured database, exactly as the Lambda
//! runs it; and, in the AWS build, the function's deployment (`deploy`, `status`, `undeploy`).

use std::path::PathBuf;

use anyhow::Context;

use crate::output;
use crate::target::ConnectionArgs;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum LambdaCommand {
    /// Run the Lambda's handler on an event file and print its response.
    Invoke {
        /// A Cognito PreSignUp or PostConfirmation event (JSON), e.g.
        /// deploy/lambda/example-pre-sign-up-event.json or deploy/lambda/example-event.json.
        #[arg(long, value_name = "FILE")]
        event: PathBuf,
    },
    /// Deploy the function as the user pool's PreSignUp and PostConfirmation triggers: in the
    /// database's VPC, with a least-privilege role, the database's security group opened to it
    /// (idempotent; --dry-run prints the changes).
    #[cfg(feature = "aws")]
    Deploy(Box<crate::lambda_deploy_cmd::DeployArgs>),
    /// What is deployed and whether it is wired (triggers, permission, database rule, role);
    /// exits non-zero when something is missing.
    #[cfg(feature = "aws")]
    Status(crate::lambda_deploy_cmd::StatusArgs),
    /// Remove what deploy made and unwire the triggers (never the pool or the database); needs
    /// --yes.
    #[cfg(feature = "aws")]
    Undeploy(crate::lambda_deploy_cmd::UndeployArgs),
    /// Deploy the function (not in this build: see `cruddur lambda deploy`).
    #[cfg(not(feature = "aws"))]
    Deploy(crate::aws_unavailable::AwsArgs),
    /// What is deployed (not in this build).
    #[cfg(not(feature = "aws"))]
    Status(crate::aws_unavailable::AwsArgs),
    /// Remove the deployment (not in this build).
    #[cfg(not(feature = "aws"))]
    Undeploy(crate::aws_unavailable::AwsArgs),
}

pub(crate) async fn run(command: LambdaCommand, connection: &ConnectionArgs) -> anyhow::Result<()> {
    match command {
        LambdaCommand::Invoke { event } => invoke(&event, connection).await,
        #[cfg(feature = "aws")]
        LambdaCommand::Deploy(args) => crate::lambda_deploy_cmd::deploy(*args).await,
        #[cfg(feature = "aws")]
        LambdaCommand::Status(args) => crate::lambda_deploy_cmd::status(args).await,
        #[cfg(feature = "aws")]
        LambdaCommand::Undeploy(args) => crate::lambda_deploy_cmd::undeploy(args).await,
        #[cfg(not(feature = "aws"))]
        LambdaCommand::Deploy(_) => Err(crate::aws_unavailable::error("lambda deploy")),
        #[cfg(not(feature = "aws"))]
        LambdaCommand::Status(_) => Err(crate::aws_unavailable::error("lambda status")),
        #[cfg(not(feature = "aws"))]
        LambdaCommand::Undeploy(_) => Err(crate::aws_unavailable::error("lambda undeploy")),
    }
}

async fn invoke(event: &std::path::Path, connection: &ConnectionArgs) -> anyhow::Result<()> {
    output::heading("lambda-invoke");
    let text = std::fs::read_to_string(event)
        .with_context(|| format!("cannot read {}", event.display()))?;
    let input: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", event.display()))?;
    let target = crate::db_auth::resolve(connection).await?;
    if target.cluster.is_some() {
        crate::db_cmd::ensure_database(&target).await?;
    }
    let pool = db::pool::build_pool(&target.settings, &db::PoolSettings::default())?;
    let response = post_confirmation::handle_json(&pool, input)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", e.kind(), e.full_message()))?;
    output::line(serde_json::to_string_pretty(&response)?);
    Ok(())
}
