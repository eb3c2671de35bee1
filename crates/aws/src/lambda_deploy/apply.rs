//! Carries out a plan's changes in order. A security group made here is used by the changes
//! after it; each change is reported as it completes, so a failure shows how far deploy got
//! (running it again continues from there).

use aws_sdk_ec2::types::{ResourceType, Tag, TagSpecification};

use super::observe::Observed;
use super::plan::{self, Change};
use super::{
    function, policy, triggers, Clients, DeploySpec, COGNITO_SERVICE, OWNER_TAG, PERMISSION_ID,
};
use crate::error::{AwsError, SdkFailure};

pub(crate) async fn apply(
    clients: &Clients,
    spec: &DeploySpec,
    observed: Observed,
    changes: &[Change],
    mut done: impl FnMut(&Change),
) -> Result<(), AwsError> {
    let mut group = observed.lambda_group.id().map(str::to_owned);
    for change in changes {
        match change {
            Change::CreateSecurityGroup { name, vpc } => {
                group = Some(create_group(&clients.ec2, name, vpc, &spec.function_name).await?);
            }
            Change::CreateRole { name } => create_role(&clients.iam, name).await?,
            Change::RestoreTrust { role } => {
                clients
                    .iam
                    .update_assume_role_policy()
                    .role_name(role)
                    .policy_document(policy::trust_document().to_string())
                    .send()
                    .await
                    .map_err(|e| SdkFailure::from(e).into_error())?;
            }
            Change::PutRolePolicy { role, .. } => {
                let document = plan::wanted_policy(spec, &observed, known(&group)?);
                clients
                    .iam
                    .put_role_policy()
                    .role_name(role)
                    .policy_name(role)
                    .policy_document(document.to_string())
                    .send()
                    .await
                    .map_err(|e| SdkFailure::from(e).into_error())?;
            }
            Change::CreateFunction { name, .. } => {
                let config = plan::wanted_config(spec, &observed, known(&group)?);
                function::create(
                    &clients.lambda,
                    name,
                    &config,
                    &spec.artifact,
                    &plan::wanted_tags(spec),
                )
                .await?;
            }
            Change::UpdateConfiguration { .. } => {
                let config = plan::wanted_config(spec, &observed, known(&group)?);
                function::update_configuration(&clients.lambda, &spec.function_name, &config)
                    .await?;
            }
            Change::UpdateCode { .. } => {
                function::update_code(&clients.lambda, &spec.function_name, &spec.artifact).await?;
            }
            Change::TagFunction => {
                clients
                    .lambda
                    .tag_resource()
                    .resource(&observed.function_arn)
                    .set_tags(Some(plan::wanted_tags(spec).into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| SdkFailure::from(e).into_error())?;
            }
            Change::AllowDatabase { db_group, .. } => {
                let description = crate::security_group::rule_description_text(&format!(
                    "cruddur: PostgreSQL from the Lambda {}",
                    spec.function_name
                ));
                crate::ingress::allow_group(&clients.ec2, db_group, known(&group)?, &description)
                    .await?;
            }
            Change::AllowPool { pool_arn, replace } => {
                allow_pool(clients, spec, &observed, pool_arn, *replace).await?;
            }
            Change::WireTriggers { .. } => {
                triggers::wire(
                    &clients.cognito,
                    &spec.user_pool_id,
                    &observed.pool,
                    &observed.function_arn,
                )
                .await?;
            }
        }
        done(change);
    }
    Ok(())
}

fn known(group: &Option<String>) -> Result<&str, AwsError> {
    group
        .as_deref()
        .ok_or_else(|| AwsError::Invalid("the function's security group is not known yet".into()))
}

async fn create_group(
    ec2: &aws_sdk_ec2::Client,
    name: &str,
    vpc: &str,
    function: &str,
) -> Result<String, AwsError> {
    let output = ec2
        .create_security_group()
        .group_name(name)
        .description(format!(
            "Lambda {function}: admitted by the database's group on 5432 (cruddur lambda deploy)"
        ))
        .vpc_id(vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(Tag::builder().key(OWNER_TAG).value(function).build())
                .tags(Tag::builder().key("Name").value(name).build())
                .build(),
        )
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    output
        .group_id()
        .map(str::to_owned)
        .ok_or_else(|| AwsError::Invalid(format!("security group {name} was made without an id")))
}

async fn create_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), AwsError> {
    iam.create_role()
        .role_name(name)
        .description("Cruddur's Cognito triggers Lambda (cruddur lambda deploy)")
        .assume_role_policy_document(policy::trust_document().to_string())
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key(OWNER_TAG)
                .value(name)
                .build()
                .map_err(|e| AwsError::Invalid(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    tracing::info!(name, "role created");
    Ok(())
}

async fn allow_pool(
    clients: &Clients,
    spec: &DeploySpec,
    observed: &Observed,
    pool_arn: &str,
    replace: bool,
) -> Result<(), AwsError> {
    if replace {
        clients
            .lambda
            .remove_permission()
            .function_name(&spec.function_name)
            .statement_id(PERMISSION_ID)
            .send()
            .await
            .map_err(|e| SdkFailure::from(e).into_error())?;
    }
    clients
        .lambda
        .add_permission()
        .function_name(&spec.function_name)
        .statement_id(PERMISSION_ID)
        .action("lambda:InvokeFunction")
        .principal(COGNITO_SERVICE)
        .source_arn(pool_arn)
        .source_account(&observed.account.id)
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    Ok(())
}
