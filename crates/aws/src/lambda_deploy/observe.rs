//! Deploy's read-only pass: the pool, the network, the database login, and whatever of the
//! function, its role, its permission and its database rule already exists. Every input is
//! checked here, so a wrong one stops deploy before it writes anything.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cognitoidentityprovider::types::UserPoolType;
use serde_json::Value;

use super::network::{admits, own_group, vpc_of_subnets};
use super::policy::{self, DbGrant};
use super::{Account, Clients, DbLogin, DeploySpec, OWNER_TAG};
use crate::error::{AwsError, SdkFailure};
use crate::ingress;

#[derive(Debug)]
pub(crate) struct Observed {
    pub account: Account,
    pub pool: UserPoolType,
    pub pool_arn: String,
    pub function_arn: String,
    pub vpc: String,
    pub lambda_group: LambdaGroup,
    pub grant: DbGrant,
    pub role: Option<RoleState>,
    pub function: Option<FunctionState>,
    pub permission: Permission,
    /// The database's group already admits the function's on 5432.
    pub db_rule: bool,
}

/// The function's security group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LambdaGroup {
    /// `--security-group`: used as it is.
    Given(String),
    /// Made by an earlier deploy (tagged).
    Ours(String),
    /// Deploy will make it.
    ToCreate,
}

impl LambdaGroup {
    pub(crate) fn id(&self) -> Option<&str> {
        match self {
            Self::Given(id) | Self::Ours(id) => Some(id),
            Self::ToCreate => None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct RoleState {
    pub trust: Option<Value>,
    pub policy: Option<Value>,
}

/// The parts of a function's configuration deploy decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionConfig {
    pub role: String,
    pub runtime: String,
    pub handler: String,
    pub timeout: i32,
    pub memory: i32,
    pub environment: BTreeMap<String, String>,
    pub subnets: BTreeSet<String>,
    pub security_groups: BTreeSet<String>,
}

#[derive(Debug)]
pub(crate) struct FunctionState {
    pub config: FunctionConfig,
    pub arn: String,
    pub code_sha256: String,
    pub code_size: i64,
    pub state: String,
    pub architecture: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// The statement letting the pool invoke the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Permission {
    Missing,
    Matches,
    /// A statement of that id for another pool or principal.
    Differs,
}

pub(crate) async fn observe(clients: &Clients, spec: &DeploySpec) -> Result<Observed, AwsError> {
    if spec.subnets.is_empty() {
        return Err(AwsError::Invalid(
            "--subnets: give the private subnets (of the database's VPC) the function runs in"
                .into(),
        ));
    }
    let pool = describe_pool(&clients.cognito, &spec.user_pool_id).await?;
    let pool_arn = pool
        .arn()
        .ok_or_else(|| AwsError::Invalid(format!("user pool {} has no ARN", spec.user_pool_id)))?
        .to_owned();
    let account = Account::of_arn(&pool_arn)?;
    let vpc = vpc_of_subnets(&clients.ec2, &spec.subnets).await?;
    let db_vpc = ingress::vpc_of(&clients.ec2, &spec.db_security_group).await?;
    if db_vpc != vpc {
        return Err(AwsError::Invalid(format!(
            "the database's security group {} is in {db_vpc}, the subnets in {vpc}: the function must run in the database's VPC",
            spec.db_security_group
        )));
    }
    let lambda_group = match &spec.security_group {
        Some(given) => {
            let group_vpc = ingress::vpc_of(&clients.ec2, given).await?;
            if group_vpc != vpc {
                return Err(AwsError::Invalid(format!(
                    "security group {given} is in {group_vpc}, the subnets in {vpc}"
                )));
            }
            LambdaGroup::Given(given.clone())
        }
        None => match own_group(&clients.ec2, &vpc, &spec.function_name).await? {
            Some(id) => LambdaGroup::Ours(id),
            None => LambdaGroup::ToCreate,
        },
    };
    let grant = db_grant(clients, &spec.db).await?;
    let role = role_state(&clients.iam, &spec.function_name).await?;
    let function = function_state(&clients.lambda, &spec.function_name).await?;
    let function_arn = account.function_arn(&spec.function_name);
    let permission = if function.is_some() {
        permission(&clients.lambda, &spec.function_name, &pool_arn).await?
    } else {
        Permission::Missing
    };
    let db_rule = match lambda_group.id() {
        Some(id) => admits(&clients.ec2, &spec.db_security_group, id).await?,
        None => false,
    };
    Ok(Observed {
        account,
        pool,
        pool_arn,
        function_arn,
        vpc,
        lambda_group,
        grant,
        role,
        function,
        permission,
        db_rule,
    })
}

pub(crate) async fn describe_pool(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    id: &str,
) -> Result<UserPoolType, AwsError> {
    let output = cognito
        .describe_user_pool()
        .user_pool_id(id)
        .send()
        .await
        .map_err(|e| crate::cognito::pool_error(SdkFailure::from(e), id))?;
    output
        .user_pool()
        .cloned()
        .ok_or_else(|| AwsError::Invalid(format!("user pool {id} not found")))
}

async fn db_grant(clients: &Clients, login: &DbLogin) -> Result<DbGrant, AwsError> {
    match login {
        DbLogin::Secret { secret, url } => {
            if let Some(url) = url {
                checked_url(url)?;
            }
            let described = clients
                .secrets
                .describe_secret()
                .secret_id(secret)
                .send()
                .await
                .map_err(|e| {
                    SdkFailure::from(e).not_found_as(&["ResourceNotFoundException"], |_| {
                        format!("secret {secret} not found (ResourceNotFoundException); check the name or ARN and the region")
                    })
                })?;
            let arn = described
                .arn()
                .ok_or_else(|| AwsError::Invalid(format!("secret {secret} has no ARN")))?;
            Ok(DbGrant::Secret {
                arn: arn.to_owned(),
            })
        }
        DbLogin::Iam { url } => {
            let settings = checked_url(url)?;
            let user = settings
                .pg
                .get_user()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    AwsError::Invalid(
                        "--db-url must name the database user the function logs in as (DB_AUTH=iam)"
                            .into(),
                    )
                })?
                .to_owned();
            if settings.ssl_mode != db::config::SslMode::VerifyFull {
                return Err(AwsError::Invalid(
                    "--db-url needs sslmode=verify-full with DB_AUTH=iam (the token is a bearer credential)".into(),
                ));
            }
            let (host, _) = settings.login_host();
            let resource_id = instance_resource_id(&clients.rds, &host).await?;
            Ok(DbGrant::IamUser { resource_id, user })
        }
    }
}

/// A URL for the function's environment: parseable and without a password.
pub(crate) fn checked_url(url: &str) -> Result<db::ConnectSettings, AwsError> {
    let settings = db::DatabaseUrl::new(url)
        .parse()
        .map_err(|e| AwsError::Invalid(format!("--db-url: {e}")))?;
    if settings.pg.get_password().is_some() {
        return Err(AwsError::Invalid(
            "--db-url holds a password, which would sit in the function's configuration for anyone with lambda:GetFunction to read; leave it out (DB_AUTH=secret reads it from the secret)".into(),
        ));
    }
    Ok(settings)
}

/// The `DbiResourceId` of the instance whose endpoint is `host` (what `rds-db:connect` names).
async fn instance_resource_id(rds: &aws_sdk_rds::Client, host: &str) -> Result<String, AwsError> {
    let mut marker: Option<String> = None;
    loop {
        let page = rds
            .describe_db_instances()
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| SdkFailure::from(e).into_error())?;
        let found = page.db_instances().iter().find(|i| {
            i.endpoint()
                .and_then(|e| e.address())
                .is_some_and(|a| a.eq_ignore_ascii_case(host))
        });
        if let Some(instance) = found {
            return instance
                .dbi_resource_id()
                .map(str::to_owned)
                .ok_or_else(|| {
                    AwsError::Invalid(format!("the instance at {host} has no DbiResourceId"))
                });
        }
        match page.marker() {
            Some(next) if !next.is_empty() => marker = Some(next.to_owned()),
            _ => {
                return Err(AwsError::Invalid(format!(
                    "no RDS instance has the endpoint {host} (the --db-url host); DB_AUTH=iam needs the instance's own endpoint"
                )))
            }
        }
    }
}

async fn role_state(iam: &aws_sdk_iam::Client, name: &str) -> Result<Option<RoleState>, AwsError> {
    let role = match iam.get_role().role_name(name).send().await {
        Ok(output) => output.role().cloned(),
        Err(e) => {
            let failure = SdkFailure::from(e);
            if failure.code.as_deref() == Some("NoSuchEntity") {
                return Ok(None);
            }
            return Err(failure.into_error());
        }
    };
    let Some(role) = role else { return Ok(None) };
    let ours = role
        .tags()
        .iter()
        .any(|t| t.key() == OWNER_TAG && t.value() == name);
    if !ours {
        return Err(AwsError::Invalid(format!(
            "IAM role {name} exists and was not made by `cruddur lambda deploy` (no {OWNER_TAG} tag); deploy will not take over a role it did not make: choose another --function-name or delete the role"
        )));
    }
    let policy = match iam
        .get_role_policy()
        .role_name(name)
        .policy_name(name)
        .send()
        .await
    {
        Ok(output) => policy::decode_document(output.policy_document()),
        Err(e) => {
            let failure = SdkFailure::from(e);
            if failure.code.as_deref() != Some("NoSuchEntity") {
                return Err(failure.into_error());
            }
            None
        }
    };
    Ok(Some(RoleState {
        trust: role
            .assume_role_policy_document()
            .and_then(policy::decode_document),
        policy,
    }))
}

pub(crate) async fn function_state(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<Option<FunctionState>, AwsError> {
    let output = match lambda.get_function().function_name(name).send().await {
        Ok(output) => output,
        Err(e) => {
            let failure = SdkFailure::from(e);
            if failure.code.as_deref() == Some("ResourceNotFoundException") {
                return Ok(None);
            }
            return Err(failure.into_error());
        }
    };
    let Some(config) = output.configuration() else {
        return Ok(None);
    };
    let vpc = config.vpc_config();
    Ok(Some(FunctionState {
        config: FunctionConfig {
            role: config.role().unwrap_or_default().to_owned(),
            runtime: config
                .runtime()
                .map(|r| r.as_str().to_owned())
                .unwrap_or_default(),
            handler: config.handler().unwrap_or_default().to_owned(),
            timeout: config.timeout().unwrap_or_default(),
            memory: config.memory_size().unwrap_or_default(),
            environment: config
                .environment()
                .and_then(|e| e.variables())
                .map(|vars| vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            subnets: vpc
                .map(|v| v.subnet_ids().iter().cloned().collect())
                .unwrap_or_default(),
            security_groups: vpc
                .map(|v| v.security_group_ids().iter().cloned().collect())
                .unwrap_or_default(),
        },
        arn: config.function_arn().unwrap_or_default().to_owned(),
        code_sha256: config.code_sha256().unwrap_or_default().to_owned(),
        code_size: config.code_size(),
        state: config
            .state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default(),
        architecture: config
            .architectures()
            .first()
            .map(|a| a.as_str().to_owned()),
        tags: output
            .tags()
            .map(|tags| tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }))
}

/// The function's resource policy statements.
pub(crate) async fn resource_statements(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
) -> Result<Vec<Value>, AwsError> {
    match lambda.get_policy().function_name(name).send().await {
        Ok(output) => Ok(output
            .policy()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .and_then(|p| p.get("Statement").and_then(Value::as_array).cloned())
            .unwrap_or_default()),
        Err(e) => {
            let failure = SdkFailure::from(e);
            if failure.code.as_deref() == Some("ResourceNotFoundException") {
                Ok(Vec::new())
            } else {
                Err(failure.into_error())
            }
        }
    }
}

/// Whether a statement lets Cognito invoke the function for exactly `pool_arn`.
pub(crate) fn lets_pool_invoke(statement: &Value, pool_arn: &str) -> bool {
    let principal = &statement["Principal"]["Service"];
    let source = statement["Condition"]["ArnLike"]["AWS:SourceArn"].as_str();
    statement["Effect"] == "Allow"
        && principal == super::COGNITO_SERVICE
        && statement["Action"] == "lambda:InvokeFunction"
        && source == Some(pool_arn)
}

async fn permission(
    lambda: &aws_sdk_lambda::Client,
    name: &str,
    pool_arn: &str,
) -> Result<Permission, AwsError> {
    let statements = resource_statements(lambda, name).await?;
    Ok(
        match statements.iter().find(|s| s["Sid"] == super::PERMISSION_ID) {
            None => Permission::Missing,
            Some(statement) if lets_pool_invoke(statement, pool_arn) => Permission::Matches,
            Some(_) => Permission::Differs,
        },
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_a_statement_for_exactly_this_pool_lets_it_invoke() {
        let pool = "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_a";
        let statement = json!({
            "Sid": super::super::PERMISSION_ID,
            "Effect": "Allow",
            "Principal": {"Service": "cognito-idp.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Condition": {"ArnLike": {"AWS:SourceArn": pool}}
        });
        assert!(lets_pool_invoke(&statement, pool));
        assert!(!lets_pool_invoke(&statement, &format!("{pool}b")));
        let mut unconditioned = statement.clone();
        unconditioned["Condition"] = json!({});
        assert!(!lets_pool_invoke(&unconditioned, pool));
        let mut anyone = statement;
        anyone["Principal"] = json!({"Service": "s3.amazonaws.com"});
        assert!(!lets_pool_invoke(&anyone, pool));
    }

    #[test]
    fn a_url_with_a_password_is_refused_for_the_functions_environment() {
        let error = checked_url("postgres://app:hunter2@db.example:5432/cruddur").unwrap_err();
        assert!(error.to_string().contains("holds a password"));
        assert!(!error.to_string().contains("hunter2"));
        assert!(checked_url("postgres://app@db.example:5432/cruddur?sslmode=verify-full").is_ok());
    }
}
