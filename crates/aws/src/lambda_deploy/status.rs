//! `cruddur lambda status`: what is deployed, and whether it is wired as deploy leaves it — the
//! pool's triggers point at it, the pool may invoke it, the database's group admits it, its
//! role grants the database login and its environment holds no password.

use serde_json::Value;

use super::network;
use super::observe::{self, checked_url, FunctionState};
use super::{triggers, Account, Clients, DB_GROUP_TAG, POOL_TAG, TIMEOUT_SECS};
use crate::error::{AwsError, SdkFailure};

/// One thing status checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub ok: bool,
    pub text: String,
}

impl Check {
    fn new(ok: bool, text: impl Into<String>) -> Self {
        Self {
            ok,
            text: text.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Status {
    pub function_arn: String,
    pub state: String,
    pub code_sha256: String,
    pub code_size: i64,
    pub architecture: String,
    pub timeout: i32,
    pub role: String,
    pub vpc: Option<String>,
    pub subnets: Vec<String>,
    pub security_groups: Vec<String>,
    /// Names only: values may be ARNs and URLs an operator need not see.
    pub environment_keys: Vec<String>,
    pub checks: Vec<Check>,
}

/// The function `name`'s deployment; `pool_id` and `db_group` default to what deploy tagged
/// the function with.
pub async fn status(
    clients: &Clients,
    name: &str,
    pool_id: Option<String>,
    db_group: Option<String>,
) -> Result<Status, AwsError> {
    let Some(function) = observe::function_state(&clients.lambda, name).await? else {
        return Err(AwsError::Invalid(format!(
            "function {name} not found: not deployed in this region (cruddur lambda deploy)"
        )));
    };
    let subnets: Vec<String> = function.config.subnets.iter().cloned().collect();
    let vpc = if subnets.is_empty() {
        None
    } else {
        network::vpc_of_subnets(&clients.ec2, &subnets).await.ok()
    };
    let mut checks = vec![
        Check::new(
            matches!(function.state.as_str(), "Active" | "Inactive"),
            format!("state {}", function.state),
        ),
        Check::new(
            function.config.timeout <= TIMEOUT_SECS,
            format!(
                "timeout {} s (Cognito waits {TIMEOUT_SECS} s for a trigger)",
                function.config.timeout
            ),
        ),
        no_password(&function),
        Check::new(
            vpc.is_some(),
            match &vpc {
                Some(vpc) => format!("runs in {vpc}"),
                None => "runs outside any VPC: it cannot reach a private database".to_owned(),
            },
        ),
    ];
    checks.push(role_check(&clients.iam, &function).await?);
    let pool_id = pool_id.or_else(|| function.tags.get(POOL_TAG).cloned());
    match pool_id {
        Some(pool_id) => checks.extend(pool_checks(clients, name, &pool_id, &function).await?),
        None => checks.push(Check::new(
            false,
            "no user pool to check: give --user-pool-id",
        )),
    }
    let db_group = db_group.or_else(|| function.tags.get(DB_GROUP_TAG).cloned());
    match db_group {
        Some(db_group) => {
            for group in &function.config.security_groups {
                let ok = network::admits(&clients.ec2, &db_group, group).await?;
                checks.push(Check::new(
                    ok,
                    format!(
                        "the database's {db_group} {} {group} on tcp 5432",
                        if ok { "admits" } else { "does not admit" }
                    ),
                ));
            }
        }
        None => checks.push(Check::new(
            false,
            "no database security group to check: give --db-security-group",
        )),
    }
    Ok(Status {
        function_arn: function.arn.clone(),
        state: function.state.clone(),
        code_sha256: function.code_sha256.clone(),
        code_size: function.code_size,
        architecture: function.architecture.clone().unwrap_or_default(),
        timeout: function.config.timeout,
        role: function.config.role.clone(),
        vpc,
        subnets,
        security_groups: function.config.security_groups.iter().cloned().collect(),
        environment_keys: function.config.environment.keys().cloned().collect(),
        checks,
    })
}

fn no_password(function: &FunctionState) -> Check {
    let env = &function.config.environment;
    let named = env
        .keys()
        .find(|k| k.to_ascii_uppercase().contains("PASSWORD"));
    let in_url = env
        .get("CONNECTION_URL")
        .is_some_and(|url| checked_url(url).is_err());
    match (named, in_url) {
        (Some(key), _) => Check::new(false, format!("the environment holds {key}")),
        (None, true) => Check::new(
            false,
            "the environment's CONNECTION_URL holds a password (or does not parse)",
        ),
        (None, false) => Check::new(true, "no password in the environment"),
    }
}

/// The role's inline policy and what database login it grants.
async fn role_check(
    iam: &aws_sdk_iam::Client,
    function: &FunctionState,
) -> Result<Check, AwsError> {
    let role = function
        .config
        .role
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let document = match iam
        .get_role_policy()
        .role_name(&role)
        .policy_name(&role)
        .send()
        .await
    {
        Ok(output) => super::policy::decode_document(output.policy_document()),
        Err(e) => {
            let failure = SdkFailure::from(e);
            if failure.code.as_deref() != Some("NoSuchEntity") {
                return Err(failure.into_error());
            }
            None
        }
    };
    let grants: Vec<String> = document
        .as_ref()
        .and_then(|d| d["Statement"].as_array())
        .map(|statements| {
            statements
                .iter()
                .filter(|s| {
                    matches!(
                        s["Action"].as_str(),
                        Some("secretsmanager:GetSecretValue" | "rds-db:connect")
                    )
                })
                .map(|s| {
                    format!(
                        "{} on {}",
                        s["Action"].as_str().unwrap_or_default(),
                        match &s["Resource"] {
                            Value::String(one) => one.clone(),
                            other => other.to_string(),
                        }
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(if grants.is_empty() {
        Check::new(
            false,
            format!("role {role} has no policy {role} granting the database login"),
        )
    } else {
        Check::new(true, format!("role {role} grants {}", grants.join("; ")))
    })
}

async fn pool_checks(
    clients: &Clients,
    name: &str,
    pool_id: &str,
    function: &FunctionState,
) -> Result<Vec<Check>, AwsError> {
    let pool = observe::describe_pool(&clients.cognito, pool_id).await?;
    let pool_arn = pool.arn().unwrap_or_default().to_owned();
    let function_arn = if function.arn.is_empty() {
        Account::of_arn(&pool_arn)?.function_arn(name)
    } else {
        function.arn.clone()
    };
    let wired = triggers::wired(&pool, &function_arn);
    let mut checks: Vec<Check> = triggers::WIRED
        .into_iter()
        .map(|trigger| {
            let ok = wired.contains(&trigger);
            Check::new(
                ok,
                format!(
                    "user pool {pool_id}'s {trigger} trigger {} the function",
                    if ok { "is" } else { "is not" }
                ),
            )
        })
        .collect();
    let statements = observe::resource_statements(&clients.lambda, name).await?;
    let allowed = statements
        .iter()
        .any(|s| observe::lets_pool_invoke(s, &pool_arn));
    checks.push(Check::new(
        allowed,
        format!(
            "{} {} invoke it for {pool_arn}",
            super::COGNITO_SERVICE,
            if allowed { "may" } else { "may not" }
        ),
    ));
    Ok(checks)
}
