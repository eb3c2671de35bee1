//! `cruddur lambda invoke --event FILE`: the Cognito triggers' handler (pre sign-up or post
//! confirmation, by the event's `triggerSource`) run locally against the configured database,
//! exactly as the Lambda runs it.

use std::path::PathBuf;

use anyhow::Context;

use crate::output;
use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum LambdaCommand {
    /// Run the Lambda's handler on an event file and print its response.
    Invoke {
        /// A Cognito PreSignUp or PostConfirmation event (JSON), e.g.
        /// deploy/lambda/example-pre-sign-up-event.json or deploy/lambda/example-event.json.
        #[arg(long, value_name = "FILE")]
        event: PathBuf,
    },
}

pub(crate) async fn run(command: LambdaCommand, target: Target) -> anyhow::Result<()> {
    match command {
        LambdaCommand::Invoke { event } => {
            output::heading("lambda-invoke");
            let text = std::fs::read_to_string(&event)
                .with_context(|| format!("cannot read {}", event.display()))?;
            let input: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", event.display()))?;
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
    }
}
