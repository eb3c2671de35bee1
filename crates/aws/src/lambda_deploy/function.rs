//! The function itself: create it, change its configuration or code, and wait for Lambda to
//! finish each change (a function in the VPC is `Pending` while its network interfaces are made,
//! and Lambda refuses a second update while one is `InProgress`).

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime, VpcConfig};

use super::artifact::Artifact;
use super::observe::FunctionConfig;
use crate::error::{AwsError, SdkFailure};

/// A function in a VPC can take minutes to become `Active`.
const READY_TIMEOUT: Duration = Duration::from_secs(300);
const READY_POLL: Duration = Duration::from_secs(2);
/// A role made a moment ago is not yet usable by Lambda (IAM is eventually consistent: AWS says
/// seconds, commonly up to ~10).
const ROLE_PROPAGATION: Duration = Duration::from_secs(60);
const ROLE_RETRY: Duration = Duration::from_secs(3);

pub(crate) async fn create(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    config: &FunctionConfig,
    artifact: &Artifact,
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<(), AwsError> {
    retry_while_role_propagates(|| async {
        lambda
            .create_function()
            .function_name(name)
            .description(
                "Cruddur's Cognito PreSignUp and PostConfirmation triggers (cruddur lambda deploy)",
            )
            .runtime(Runtime::from(config.runtime.as_str()))
            .handler(&config.handler)
            .role(&config.role)
            .timeout(config.timeout)
            .memory_size(config.memory)
            .architectures(artifact.architecture.to_lambda())
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(artifact.bytes.clone()))
                    .build(),
            )
            .vpc_config(vpc_config(config))
            .environment(environment(config))
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .map(|_| ())
            .map_err(SdkFailure::from)
    })
    .await?;
    tracing::info!(name, "function created");
    wait_ready(lambda, name).await
}

pub(crate) async fn update_configuration(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    config: &FunctionConfig,
) -> Result<(), AwsError> {
    wait_ready(lambda, name).await?;
    retry_while_role_propagates(|| async {
        lambda
            .update_function_configuration()
            .function_name(name)
            .runtime(Runtime::from(config.runtime.as_str()))
            .handler(&config.handler)
            .role(&config.role)
            .timeout(config.timeout)
            .memory_size(config.memory)
            .vpc_config(vpc_config(config))
            .environment(environment(config))
            .send()
            .await
            .map(|_| ())
            .map_err(SdkFailure::from)
    })
    .await?;
    wait_ready(lambda, name).await
}

pub(crate) async fn update_code(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    artifact: &Artifact,
) -> Result<(), AwsError> {
    wait_ready(lambda, name).await?;
    lambda
        .update_function_code()
        .function_name(name)
        .zip_file(Blob::new(artifact.bytes.clone()))
        .architectures(artifact.architecture.to_lambda())
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    wait_ready(lambda, name).await
}

fn vpc_config(config: &FunctionConfig) -> VpcConfig {
    VpcConfig::builder()
        .set_subnet_ids(Some(config.subnets.iter().cloned().collect()))
        .set_security_group_ids(Some(config.security_groups.iter().cloned().collect()))
        .build()
}

fn environment(config: &FunctionConfig) -> Environment {
    Environment::builder()
        .set_variables(Some(config.environment.clone().into_iter().collect()))
        .build()
}

/// Waits until the function is `Active` and no update is in progress.
pub(crate) async fn wait_ready(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<(), AwsError> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let config = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| SdkFailure::from(e).into_error())?;
        let state = config.state().map(|s| s.as_str().to_owned());
        let update = config.last_update_status().map(|s| s.as_str().to_owned());
        if state.as_deref() == Some("Failed") || update.as_deref() == Some("Failed") {
            return Err(AwsError::Invalid(format!(
                "function {name} failed to become ready: {}",
                config
                    .state_reason()
                    .or(config.last_update_status_reason())
                    .unwrap_or("no reason given")
            )));
        }
        let settled = matches!(state.as_deref(), None | Some("Active" | "Inactive"))
            && update.as_deref() != Some("InProgress");
        if settled {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(AwsError::WaitTimeout {
                id: name.to_owned(),
                wanted: "Active".to_owned(),
                last: format!(
                    "{} (last update {})",
                    state.unwrap_or_default(),
                    update.unwrap_or_default()
                ),
                waited_secs: READY_TIMEOUT.as_secs(),
            });
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// Runs `call` again while Lambda says the role cannot be used yet, for at most
/// [`ROLE_PROPAGATION`].
async fn retry_while_role_propagates<F, Fut>(mut call: F) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), SdkFailure>>,
{
    let deadline = Instant::now() + ROLE_PROPAGATION;
    loop {
        match call().await {
            Ok(()) => return Ok(()),
            Err(failure) if role_not_ready(&failure) && Instant::now() < deadline => {
                tracing::info!("the new role is not usable by Lambda yet; trying again");
                tokio::time::sleep(ROLE_RETRY).await;
            }
            Err(failure) => return Err(failure.into_error()),
        }
    }
}

fn role_not_ready(failure: &SdkFailure) -> bool {
    failure.code.as_deref() == Some("InvalidParameterValueException")
        && (failure.message.contains("cannot be assumed")
            || failure
                .message
                .contains("does not have permissions to call"))
}
