//! `cruddur lambda undeploy --yes`: removes what deploy made — the triggers pointing at the
//! function (the pool's other settings kept), the database group's rule admitting it, the
//! function, and the role and security group deploy made (by their tag; a given group or a role
//! it did not make is left). Never the pool, never the database.

use aws_sdk_cognitoidentityprovider::types::UserPoolType;

use super::network;
use super::observe::{self, FunctionState};
use super::{triggers, Account, Clients, DB_GROUP_TAG, OWNER_TAG, POOL_TAG};
use crate::error::{AwsError, SdkFailure};
use crate::ingress::{self, Source};

/// One removal, in the order undeploy makes them (so running it again after a failure finishes
/// the job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    UnwireTriggers {
        pool: String,
        triggers: Vec<&'static str>,
        kept: Vec<&'static str>,
    },
    RevokeDatabase {
        db_group: String,
        from: String,
    },
    DeleteFunction {
        name: String,
    },
    DeleteRole {
        name: String,
    },
    DeleteSecurityGroup {
        id: String,
    },
}

impl std::fmt::Display for Removal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnwireTriggers {
                pool,
                triggers,
                kept,
            } => {
                write!(
                    f,
                    "clear user pool {pool}'s {} trigger(s)",
                    triggers.join(" and ")
                )?;
                if !kept.is_empty() {
                    write!(f, "; keep its {}", kept.join(", "))?;
                }
                Ok(())
            }
            Self::RevokeDatabase { db_group, from } => write!(
                f,
                "remove the database's {db_group} rule admitting {from} on tcp 5432"
            ),
            Self::DeleteFunction { name } => {
                write!(
                    f,
                    "delete function {name} (and its permission for the pool)"
                )
            }
            Self::DeleteRole { name } => write!(f, "delete IAM role {name} and its policy"),
            Self::DeleteSecurityGroup { id } => {
                write!(f, "delete security group {id} (made by deploy)")
            }
        }
    }
}

/// What undeploy would remove.
#[derive(Debug)]
pub struct Undeployment {
    name: String,
    removals: Vec<Removal>,
    pool: Option<(String, UserPoolType)>,
    function_arn: Option<String>,
}

impl Undeployment {
    pub fn removals(&self) -> &[Removal] {
        &self.removals
    }

    /// Removes each in order, calling `done` after each.
    pub async fn apply(
        self,
        clients: &Clients,
        mut done: impl FnMut(&Removal),
    ) -> Result<(), AwsError> {
        for removal in &self.removals {
            match removal {
                Removal::UnwireTriggers { pool, .. } => {
                    if let (Some((_, described)), Some(arn)) = (&self.pool, &self.function_arn) {
                        triggers::unwire(&clients.cognito, pool, described, arn).await?;
                    }
                }
                Removal::RevokeDatabase { db_group, from } => {
                    ingress::revoke(&clients.ec2, db_group, &Source::Group(from.clone())).await?;
                }
                Removal::DeleteFunction { name } => {
                    clients
                        .lambda
                        .delete_function()
                        .function_name(name)
                        .send()
                        .await
                        .map_err(|e| SdkFailure::from(e).into_error())?;
                }
                Removal::DeleteRole { name } => delete_role(&clients.iam, name).await?,
                Removal::DeleteSecurityGroup { id } => {
                    delete_group(&clients.ec2, id, &self.name).await?;
                }
            }
            done(removal);
        }
        Ok(())
    }
}

/// Reads what deploy left for function `name`; `pool_id` and `db_group` default to the
/// function's tags.
pub async fn prepare(
    clients: &Clients,
    name: &str,
    pool_id: Option<String>,
    db_group: Option<String>,
) -> Result<Undeployment, AwsError> {
    let function = observe::function_state(&clients.lambda, name).await?;
    let tag = |key: &str| function.as_ref().and_then(|f| f.tags.get(key).cloned());
    let pool_id = pool_id.or_else(|| tag(POOL_TAG));
    let db_group = db_group.or_else(|| tag(DB_GROUP_TAG));
    let mut removals = Vec::new();

    let pool = match &pool_id {
        Some(id) => Some((
            id.clone(),
            observe::describe_pool(&clients.cognito, id).await?,
        )),
        None => None,
    };
    let function_arn = match (&function, &pool) {
        (Some(f), _) if !f.arn.is_empty() => Some(f.arn.clone()),
        (_, Some((_, described))) => {
            Some(Account::of_arn(described.arn().unwrap_or_default())?.function_arn(name))
        }
        _ => None,
    };
    if let (Some((id, described)), Some(arn)) = (&pool, &function_arn) {
        let wired = triggers::wired(described, arn);
        if !wired.is_empty() {
            removals.push(Removal::UnwireTriggers {
                pool: id.clone(),
                triggers: wired,
                kept: triggers::others(described),
            });
        }
    }

    let own_groups = network::own_groups(&clients.ec2, name).await?;
    let mut function_groups: Vec<String> = function
        .as_ref()
        .map(|f: &FunctionState| f.config.security_groups.iter().cloned().collect())
        .unwrap_or_default();
    for group in &own_groups {
        if !function_groups.contains(group) {
            function_groups.push(group.clone());
        }
    }
    if let Some(db_group) = &db_group {
        for from in &function_groups {
            if network::admits(&clients.ec2, db_group, from).await? {
                removals.push(Removal::RevokeDatabase {
                    db_group: db_group.clone(),
                    from: from.clone(),
                });
            }
        }
    }
    if function.is_some() {
        removals.push(Removal::DeleteFunction {
            name: name.to_owned(),
        });
    }
    if role_is_ours(&clients.iam, name).await? {
        removals.push(Removal::DeleteRole {
            name: name.to_owned(),
        });
    }
    removals.extend(
        own_groups
            .into_iter()
            .map(|id| Removal::DeleteSecurityGroup { id }),
    );
    Ok(Undeployment {
        name: name.to_owned(),
        removals,
        pool,
        function_arn,
    })
}

async fn role_is_ours(iam: &aws_sdk_iam::Client, name: &str) -> Result<bool, AwsError> {
    match iam.get_role().role_name(name).send().await {
        Ok(output) => Ok(output.role().is_some_and(|role| {
            role.tags()
                .iter()
                .any(|t| t.key() == OWNER_TAG && t.value() == name)
        })),
        Err(e) => {
            let failure = SdkFailure::from(e);
            if failure.code.as_deref() == Some("NoSuchEntity") {
                Ok(false)
            } else {
                Err(failure.into_error())
            }
        }
    }
}

/// A role can be deleted only without policies: its inline ones are deleted, attached ones
/// detached.
async fn delete_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), AwsError> {
    let inline = iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    for policy in inline.policy_names() {
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| SdkFailure::from(e).into_error())?;
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    for policy in attached.attached_policies() {
        if let Some(arn) = policy.policy_arn() {
            iam.detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| SdkFailure::from(e).into_error())?;
        }
    }
    iam.delete_role()
        .role_name(name)
        .send()
        .await
        .map_err(|e| SdkFailure::from(e).into_error())?;
    Ok(())
}

async fn delete_group(ec2: &aws_sdk_ec2::Client, id: &str, function: &str) -> Result<(), AwsError> {
    ec2.delete_security_group()
        .group_id(id)
        .send()
        .await
        .map_err(|e| {
            let failure = SdkFailure::from(e);
            if failure.code.as_deref() == Some("DependencyViolation") {
                AwsError::Invalid(format!(
                    "security group {id} is still in use — Lambda releases a deleted function's network interfaces within about 20 minutes; run `cruddur lambda undeploy --function-name {function} --yes` again later to delete it"
                ))
            } else {
                failure.into_error()
            }
        })?;
    Ok(())
}
