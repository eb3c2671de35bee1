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
    let described = ec2
        .describe_subnets()
        .set_subnet_ids(Some(subnets.to_vec()))
        .send()
        .await
        .map_err(|e| {
            let failure = SdkFailure::from(e);
            match failure.code.as_deref() {
                Some("InvalidSubnetID.NotFound" | "InvalidSubnetID.Malformed") => {
                    AwsError::Invalid(format!("subnet not found: {}", failure.message))
                }
                _ => failure.into_error(),
            }
        })?;
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
    let output = ec2
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(
            Filter::builder()
                .name(format!("tag:{OWNER_TAG}"))
                .values(function)
                .build(),
        )
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    Ok(output
        .security_groups()
        .first()
        .and_then(|g| g.group_id())
        .map(str::to_owned))
}

/// Every group deploy made for `function`, in any VPC.
pub(crate) async fn own_groups(
    ec2: &aws_sdk_ec2::Client,
    function: &str,
) -> Result<Vec<String>, AwsError> {
    let output = ec2
        .describe_security_groups()
        .filters(
            Filter::builder()
                .name(format!("tag:{OWNER_TAG}"))
                .values(function)
                .build(),
        )
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
