//! A DB subnet group of private subnets for `rds create --vpc-id … --subnets …`: each subnet in
//! the VPC, none routing to an internet gateway (unless `--public`), two availability zones.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::Filter;

use crate::error::{AwsError, SdkFailure};

/// Why a subnet may not hold a private database.
fn public_route(table: &aws_sdk_ec2::types::RouteTable) -> Option<String> {
    table.routes().iter().find_map(|route| {
        let everywhere = route.destination_cidr_block() == Some("0.0.0.0/0")
            || route.destination_ipv6_cidr_block() == Some("::/0");
        let gateway = route.gateway_id().unwrap_or_default();
        (everywhere && gateway.starts_with("igw-")).then(|| gateway.to_owned())
    })
}

/// The route table deciding `subnet`'s routes: its own association, else the VPC's main one.
async fn route_table_of(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    subnet: &str,
) -> Result<Option<aws_sdk_ec2::types::RouteTable>, AwsError> {
    let own = ec2
        .describe_route_tables()
        .filters(
            Filter::builder()
                .name("association.subnet-id")
                .values(subnet)
                .build(),
        )
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    if let Some(table) = own.route_tables().first() {
        return Ok(Some(table.clone()));
    }
    let main = ec2
        .describe_route_tables()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(
            Filter::builder()
                .name("association.main")
                .values("true")
                .build(),
        )
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    Ok(main.route_tables().first().cloned())
}

/// `subnets` as EC2 describes them; a missing one is named.
pub(crate) async fn describe(
    ec2: &aws_sdk_ec2::Client,
    subnets: &[String],
) -> Result<aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput, AwsError> {
    ec2.describe_subnets()
        .set_subnet_ids(Some(subnets.to_vec()))
        .send()
        .await
        .map_err(|e| {
            SdkFailure::from(e).not_found_as(
                &["InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed"],
                |message| format!("subnet not found: {message}"),
            )
        })
}

/// Checks `subnets` and makes DB subnet group `name` of them (or reuses one of that name with
/// the same subnets). Returns the group's name.
pub async fn ensure(
    ec2: &aws_sdk_ec2::Client,
    rds: &aws_sdk_rds::Client,
    name: &str,
    vpc: &str,
    subnets: &[String],
    allow_public: bool,
) -> Result<String, AwsError> {
    if subnets.len() < 2 {
        return Err(AwsError::Invalid(
            "--subnets needs at least two subnets in different availability zones (an RDS rule)"
                .into(),
        ));
    }
    let described = describe(ec2, subnets).await?;
    let mut zones = BTreeSet::new();
    for subnet in described.subnets() {
        let id = subnet.subnet_id().unwrap_or_default();
        if subnet.vpc_id() != Some(vpc) {
            return Err(AwsError::Invalid(format!(
                "subnet {id} is in {}, not in {vpc}",
                subnet.vpc_id().unwrap_or("another VPC")
            )));
        }
        zones.insert(subnet.availability_zone().unwrap_or_default().to_owned());
        if !allow_public {
            if let Some(table) = route_table_of(ec2, vpc, id).await? {
                if let Some(gateway) = public_route(&table) {
                    return Err(AwsError::Invalid(format!(
                        "subnet {id} is public: its route table {} sends 0.0.0.0/0 to internet gateway {gateway}; give private subnets (or --public)",
                        table.route_table_id().unwrap_or("?")
                    )));
                }
            }
        }
    }
    if described.subnets().len() != subnets.len() {
        return Err(AwsError::Invalid("some --subnets were not found".into()));
    }
    if zones.len() < 2 {
        return Err(AwsError::Invalid(
            "--subnets are all in one availability zone; RDS needs two".into(),
        ));
    }
    let created = rds
        .create_db_subnet_group()
        .db_subnet_group_name(name)
        .db_subnet_group_description("cruddur: private subnets of the database")
        .set_subnet_ids(Some(subnets.to_vec()))
        .send()
        .await;
    match created {
        Ok(_) => {
            tracing::info!(name, vpc, "DB subnet group created");
            Ok(name.to_owned())
        }
        Err(e) => {
            let failure = SdkFailure::from(e);
            if !matches!(
                failure.code.as_deref(),
                Some("DBSubnetGroupAlreadyExists" | "DBSubnetGroupAlreadyExistsFault")
            ) {
                return Err(failure.into_error());
            }
            let existing = rds
                .describe_db_subnet_groups()
                .db_subnet_group_name(name)
                .send()
                .await
                .map_err(|e| SdkFailure::from(e).into_error())?;
            let theirs: BTreeSet<&str> = existing
                .db_subnet_groups()
                .iter()
                .flat_map(|g| g.subnets())
                .filter_map(|s| s.subnet_identifier())
                .collect();
            let ours: BTreeSet<&str> = subnets.iter().map(String::as_str).collect();
            if theirs == ours {
                Ok(name.to_owned())
            } else {
                Err(AwsError::Invalid(format!(
                    "DB subnet group {name} already exists with other subnets; pass --subnet-group {name} to use it as it is"
                )))
            }
        }
    }
}
