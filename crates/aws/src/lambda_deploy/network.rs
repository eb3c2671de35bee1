//! The function's network: the subnets' VPC, the security group deploy made for it, and
//! whether the database's group admits it.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::Filter;

use super::OWNER_TAG;
use crate::error::{AwsError, SdkFailure};
use crate::ingress::{self, Source};

/// The one VPC every subnet is in.
pub(crate) async fn vpc_of_subnets(
    ec2: &aws_sdk_ec2::Client,
    subnets: &[String],
) -> Result<String, AwsError> {
    let described = crate::subnet_group::describe(ec2, subnets).await?;
    let vpcs: BTreeSet<&str> = described
        .subnets()
        .iter()
        .filter_map(|s| s.vpc_id())
        .collect();
    match (vpcs.len(), vpcs.first()) {
        (1, Some(vpc)) if described.subnets().len() == subnets.len() => Ok((*vpc).to_owned()),
        (1, _) | (0, _) => Err(AwsError::Invalid(format!(
            "subnet not found: {}",
            subnets.join(", ")
        ))),
        _ => Err(AwsError::Invalid(format!(
            "the subnets are in different VPCs ({}); give subnets of the database's VPC",
            vpcs.into_iter().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The group an earlier deploy made for `function` in `vpc`.
pub(crate) async fn own_group(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    function: &str,
) -> Result<Option<String>, AwsError> {
    Ok(own_groups_in(ec2, Some(vpc), function)
        .await?
        .into_iter()
        .next())
}

/// Every group deploy made for `function`, in any VPC.
pub(crate) async fn own_groups(
    ec2: &aws_sdk_ec2::Client,
    function: &str,
) -> Result<Vec<String>, AwsError> {
    own_groups_in(ec2, None, function).await
}

/// The groups tagged as made for `function`, in `vpc` when given.
async fn own_groups_in(
    ec2: &aws_sdk_ec2::Client,
    vpc: Option<&str>,
    function: &str,
) -> Result<Vec<String>, AwsError> {
    let mut request = ec2.describe_security_groups().filters(
        Filter::builder()
            .name(format!("tag:{OWNER_TAG}"))
            .values(function)
            .build(),
    );
    if let Some(vpc) = vpc {
        request = request.filters(Filter::builder().name("vpc-id").values(vpc).build());
    }
    let output = request
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    Ok(output
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_owned))
        .collect())
}

/// Whether `group` admits PostgreSQL from `from`.
pub(crate) async fn admits(
    ec2: &aws_sdk_ec2::Client,
    group: &str,
    from: &str,
) -> Result<bool, AwsError> {
    let wanted = Source::Group(from.to_owned());
    Ok(ingress::inbound_rules(ec2, group)
        .await?
        .iter()
        .any(|r| r.source.as_ref() == Some(&wanted) && r.admits_postgres()))
}
