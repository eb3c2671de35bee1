//! `cruddur lambda deploy | status | undeploy`: the Cognito triggers' function deployed by one
//! command instead of the seed's console recipe — in the database's VPC, with a role that can do
//! only what the handler needs, the database's security group opened to it, and the user pool's
//! `PreSignUp` and `PostConfirmation` triggers pointing at it.
//!
//! Deploy first reads everything it will touch ([`observe`]), so a missing pool, subnet,
//! security group or secret stops it before anything is made; then it turns the difference
//! between what is there and what is wanted into [`Change`]s, which `--dry-run` prints and a
//! real run applies in order. Run again, it finds nothing to change.

mod apply;
pub mod artifact;
mod function;
mod network;
mod observe;
mod plan;
pub mod policy;
pub mod status;
mod triggers;
pub mod undeploy;

pub use plan::Change;

use crate::AwsError;

/// The name the seed gave the function.
pub const DEFAULT_FUNCTION_NAME: &str = "cruddur-post-confirmation";
/// Cognito fails a trigger after 5 s, so the function may not run longer (the handler itself
/// answers within 4 s).
pub const TIMEOUT_SECS: i32 = 5;
pub const MEMORY_MB: i32 = 128;
pub const RUNTIME: &str = "provided.al2023";
pub const HANDLER: &str = "bootstrap";
/// Marks what deploy made (the function, its role, its security group); the value is the
/// function's name. Undeploy deletes a role or group only when it carries this tag.
pub const OWNER_TAG: &str = "cruddur:lambda";
/// The function remembers which pool and database group it was wired to, for status and
/// undeploy.
pub const POOL_TAG: &str = "cruddur:user-pool-id";
pub const DB_GROUP_TAG: &str = "cruddur:db-security-group";
/// The resource policy statement letting the pool invoke the function.
pub const PERMISSION_ID: &str = "cruddur-cognito-triggers";
pub const COGNITO_SERVICE: &str = "cognito-idp.amazonaws.com";

/// The SDK clients deploy, status and undeploy use.
#[derive(Debug, Clone)]
pub struct Clients {
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub rds: aws_sdk_rds::Client,
}

impl Clients {
    pub fn new(config: &crate::SdkConfig) -> Self {
        Self {
            iam: aws_sdk_iam::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
            rds: aws_sdk_rds::Client::new(config),
        }
    }
}

/// How the function logs in to the database. Its environment never holds a password.
#[derive(Debug, Clone)]
pub enum DbLogin {
    /// `DB_AUTH=secret`: the secret (name or ARN) with `username`/`password` and, from
    /// `cruddur db create-app-user`, `host`/`port`/`dbname`; `url` (no password) overrides
    /// where to connect.
    Secret { secret: String, url: Option<String> },
    /// `DB_AUTH=iam`: `url` names the user and the RDS endpoint, with `sslmode=verify-full`.
    Iam { url: String },
}

/// What deploy is asked for.
#[derive(Debug, Clone)]
pub struct DeploySpec {
    pub function_name: String,
    pub artifact: artifact::Artifact,
    pub user_pool_id: String,
    /// Private subnets of the database's VPC for the function's network interfaces.
    pub subnets: Vec<String>,
    /// The function's security group; deploy makes one (tagged) when absent.
    pub security_group: Option<String>,
    /// The database's security group, opened to the function's on 5432.
    pub db_security_group: String,
    pub db: DbLogin,
    /// `DB_POOLER` for the function (`transaction` behind RDS Proxy or PgBouncer).
    pub pooler: Option<String>,
}

/// Partition, region and account, as the user pool's ARN says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub partition: String,
    pub region: String,
    pub id: String,
}

impl Account {
    /// From an ARN `arn:PARTITION:SERVICE:REGION:ACCOUNT:…`.
    pub fn of_arn(arn: &str) -> Result<Self, AwsError> {
        let mut parts = arn.split(':');
        match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some("arn"), Some(partition), Some(_), Some(region), Some(id))
                if !partition.is_empty() && !region.is_empty() && !id.is_empty() =>
            {
                Ok(Self {
                    partition: partition.to_owned(),
                    region: region.to_owned(),
                    id: id.to_owned(),
                })
            }
            _ => Err(AwsError::Invalid(format!(
                "`{arn}` is not an ARN with a region and an account"
            ))),
        }
    }

    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{name}",
            self.partition, self.region, self.id
        )
    }

    pub fn role_arn(&self, name: &str) -> String {
        format!("arn:{}:iam::{}:role/{name}", self.partition, self.id)
    }
}

/// Reads what is there and what should change; nothing is written.
pub async fn prepare(clients: &Clients, spec: &DeploySpec) -> Result<Deployment, AwsError> {
    let observed = observe::observe(clients, spec).await?;
    let changes = plan::plan(spec, &observed);
    Ok(Deployment { observed, changes })
}

/// A deployment ready to apply.
#[derive(Debug)]
pub struct Deployment {
    observed: observe::Observed,
    changes: Vec<Change>,
}

impl Deployment {
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The function's ARN (known before it exists).
    pub fn function_arn(&self) -> &str {
        &self.observed.function_arn
    }

    /// Applies the changes in order, calling `done` after each.
    pub async fn apply(
        self,
        clients: &Clients,
        spec: &DeploySpec,
        done: impl FnMut(&Change),
    ) -> Result<(), AwsError> {
        apply::apply(clients, spec, self.observed, &self.changes, done).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_arn_says_partition_region_and_account() {
        let account =
            Account::of_arn("arn:aws-cn:cognito-idp:cn-north-1:111122223333:userpool/cn-north-1_x")
                .unwrap();
        assert_eq!(
            account.function_arn("f"),
            "arn:aws-cn:lambda:cn-north-1:111122223333:function:f"
        );
        assert_eq!(account.role_arn("f"), "arn:aws-cn:iam::111122223333:role/f");
        assert!(Account::of_arn("arn:aws:iam::111122223333:role/f").is_err());
        assert!(Account::of_arn("userpool").is_err());
    }
}
