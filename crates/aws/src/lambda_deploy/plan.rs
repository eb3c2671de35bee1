//! The difference between what is deployed and what is asked for, as an ordered list of
//! changes: each one is printed by `--dry-run` and applied by a real run.

use std::collections::{BTreeMap, BTreeSet};

use super::observe::{FunctionConfig, LambdaGroup, Observed, Permission};
use super::policy::{self, DbGrant, Scope};
use super::{
    triggers, DbLogin, DeploySpec, DB_GROUP_TAG, HANDLER, MEMORY_MB, OWNER_TAG, POOL_TAG, RUNTIME,
    TIMEOUT_SECS,
};

/// Stands for the id of a security group deploy has yet to make.
pub(crate) const NEW_GROUP: &str = "(new group)";

/// One change deploy makes, in the order it makes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    CreateSecurityGroup {
        name: String,
        vpc: String,
    },
    CreateRole {
        name: String,
    },
    /// The role's trust policy was edited: only Lambda may assume it again.
    RestoreTrust {
        role: String,
    },
    PutRolePolicy {
        role: String,
        grant: String,
    },
    CreateFunction {
        name: String,
        architecture: String,
        size: usize,
        sha256: String,
        environment: Vec<String>,
    },
    UpdateConfiguration {
        fields: Vec<&'static str>,
    },
    UpdateCode {
        from: String,
        to: String,
        architecture: String,
        size: usize,
    },
    TagFunction,
    AllowDatabase {
        db_group: String,
        from: String,
    },
    /// A statement of our id that admits another pool or principal is replaced.
    AllowPool {
        pool_arn: String,
        replace: bool,
    },
    WireTriggers {
        pool: String,
        triggers: Vec<&'static str>,
        kept: Vec<&'static str>,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CreateSecurityGroup { name, vpc } => write!(
                f,
                "create security group {name} in {vpc} for the function (no inbound rules)"
            ),
            Self::CreateRole { name } => write!(
                f,
                "create IAM role {name}, assumable only by {}",
                policy::LAMBDA_SERVICE
            ),
            Self::RestoreTrust { role } => write!(
                f,
                "restore role {role}'s trust policy: only {} may assume it",
                policy::LAMBDA_SERVICE
            ),
            Self::PutRolePolicy { role, grant } => write!(
                f,
                "put role {role}'s policy: its own log group, network interfaces in the given subnets, {grant}"
            ),
            Self::CreateFunction {
                name,
                architecture,
                size,
                sha256,
                environment,
            } => write!(
                f,
                "create function {name}: {RUNTIME} {architecture}, {TIMEOUT_SECS} s, {MEMORY_MB} MB, code {size} bytes sha256 {sha256}, environment {}",
                environment.join(", ")
            ),
            Self::UpdateConfiguration { fields } => {
                write!(f, "update the function's configuration: {}", fields.join(", "))
            }
            Self::UpdateCode {
                from,
                to,
                architecture,
                size,
            } => write!(
                f,
                "update the function's code: sha256 {from} -> {to} ({architecture}, {size} bytes)"
            ),
            Self::TagFunction => write!(
                f,
                "tag the function with its pool and database security group"
            ),
            Self::AllowDatabase { db_group, from } => write!(
                f,
                "admit security group {from} into the database's {db_group} on tcp 5432"
            ),
            Self::AllowPool { pool_arn, replace } => write!(
                f,
                "{} {} to invoke the function for {pool_arn} only",
                if *replace { "replace the permission: let" } else { "let" },
                super::COGNITO_SERVICE
            ),
            Self::WireTriggers {
                pool,
                triggers,
                kept,
            } => {
                write!(f, "set user pool {pool}'s {} trigger(s) to the function", triggers.join(" and "))?;
                if !kept.is_empty() {
                    write!(f, "; keep its {}", kept.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// The function's environment: how to log in, never a password.
pub(crate) fn environment(spec: &DeploySpec, grant: &DbGrant) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    match grant {
        DbGrant::Secret { arn } => {
            env.insert("DB_AUTH".to_owned(), "secret".to_owned());
            env.insert("DB_SECRET_ARN".to_owned(), arn.clone());
        }
        DbGrant::IamUser { .. } => {
            env.insert("DB_AUTH".to_owned(), "iam".to_owned());
        }
    }
    let url = match &spec.db {
        DbLogin::Secret { url, .. } => url.as_ref(),
        DbLogin::Iam { url } => Some(url),
    };
    if let Some(url) = url {
        env.insert("CONNECTION_URL".to_owned(), url.clone());
    }
    if let Some(pooler) = &spec.pooler {
        env.insert("DB_POOLER".to_owned(), pooler.clone());
    }
    env
}

/// The configuration deploy wants, with `group` as the function's security group.
pub(crate) fn wanted_config(spec: &DeploySpec, observed: &Observed, group: &str) -> FunctionConfig {
    FunctionConfig {
        role: observed.account.role_arn(&spec.function_name),
        runtime: RUNTIME.to_owned(),
        handler: HANDLER.to_owned(),
        timeout: TIMEOUT_SECS,
        memory: MEMORY_MB,
        environment: environment(spec, &observed.grant),
        subnets: spec.subnets.iter().cloned().collect(),
        security_groups: BTreeSet::from([group.to_owned()]),
    }
}

pub(crate) fn wanted_tags(spec: &DeploySpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        (OWNER_TAG.to_owned(), spec.function_name.clone()),
        (POOL_TAG.to_owned(), spec.user_pool_id.clone()),
        (DB_GROUP_TAG.to_owned(), spec.db_security_group.clone()),
    ])
}

/// The role's policy with `group` as the function's security group.
pub(crate) fn wanted_policy(
    spec: &DeploySpec,
    observed: &Observed,
    group: &str,
) -> serde_json::Value {
    policy::policy_document(
        &Scope {
            partition: &observed.account.partition,
            region: &observed.account.region,
            account: &observed.account.id,
            function_name: &spec.function_name,
            subnets: &spec.subnets,
            security_group: group,
        },
        &observed.grant,
    )
}

pub(crate) fn plan(spec: &DeploySpec, observed: &Observed) -> Vec<Change> {
    let mut changes = Vec::new();
    let group = match &observed.lambda_group {
        LambdaGroup::ToCreate => {
            changes.push(Change::CreateSecurityGroup {
                name: spec.function_name.clone(),
                vpc: observed.vpc.clone(),
            });
            NEW_GROUP.to_owned()
        }
        LambdaGroup::Given(id) | LambdaGroup::Ours(id) => id.clone(),
    };
    let role = &spec.function_name;
    match &observed.role {
        None => changes.push(Change::CreateRole { name: role.clone() }),
        Some(state) if state.trust.as_ref() != Some(&policy::trust_document()) => {
            changes.push(Change::RestoreTrust { role: role.clone() });
        }
        Some(_) => {}
    }
    let policy_current = observed
        .role
        .as_ref()
        .and_then(|r| r.policy.as_ref())
        .is_some_and(|p| *p == wanted_policy(spec, observed, &group));
    if !policy_current {
        changes.push(Change::PutRolePolicy {
            role: role.clone(),
            grant: observed.grant.to_string(),
        });
    }
    let wanted = wanted_config(spec, observed, &group);
    let artifact = &spec.artifact;
    match &observed.function {
        None => changes.push(Change::CreateFunction {
            name: spec.function_name.clone(),
            architecture: artifact.architecture.to_string(),
            size: artifact.size(),
            sha256: artifact.sha256.clone(),
            environment: wanted.environment.keys().cloned().collect(),
        }),
        Some(function) => {
            let fields = changed_fields(&function.config, &wanted);
            if !fields.is_empty() {
                changes.push(Change::UpdateConfiguration { fields });
            }
            let architecture = artifact.architecture.as_str();
            if function.code_sha256 != artifact.sha256
                || function.architecture.as_deref() != Some(architecture)
            {
                changes.push(Change::UpdateCode {
                    from: function.code_sha256.clone(),
                    to: artifact.sha256.clone(),
                    architecture: architecture.to_owned(),
                    size: artifact.size(),
                });
            }
            let tags = wanted_tags(spec);
            if tags.iter().any(|(k, v)| function.tags.get(k) != Some(v)) {
                changes.push(Change::TagFunction);
            }
        }
    }
    if !observed.db_rule {
        changes.push(Change::AllowDatabase {
            db_group: spec.db_security_group.clone(),
            from: group,
        });
    }
    match observed.permission {
        Permission::Matches => {}
        Permission::Missing | Permission::Differs => changes.push(Change::AllowPool {
            pool_arn: observed.pool_arn.clone(),
            replace: observed.permission == Permission::Differs,
        }),
    }
    let unwired = triggers::unwired(&observed.pool, &observed.function_arn);
    if !unwired.is_empty() {
        changes.push(Change::WireTriggers {
            pool: spec.user_pool_id.clone(),
            triggers: unwired,
            kept: triggers::others(&observed.pool),
        });
    }
    changes
}

/// Which parts of the configuration differ, by name.
fn changed_fields(current: &FunctionConfig, wanted: &FunctionConfig) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let mut differs = |name: &'static str, same: bool| {
        if !same {
            fields.push(name);
        }
    };
    differs("role", current.role == wanted.role);
    differs("runtime", current.runtime == wanted.runtime);
    differs("handler", current.handler == wanted.handler);
    differs("timeout", current.timeout == wanted.timeout);
    differs("memory", current.memory == wanted.memory);
    differs("environment", current.environment == wanted.environment);
    differs(
        "network",
        current.subnets == wanted.subnets && current.security_groups == wanted.security_groups,
    );
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> FunctionConfig {
        FunctionConfig {
            role: "arn:aws:iam::1:role/f".into(),
            runtime: RUNTIME.into(),
            handler: HANDLER.into(),
            timeout: TIMEOUT_SECS,
            memory: MEMORY_MB,
            environment: BTreeMap::from([("DB_AUTH".into(), "secret".into())]),
            subnets: BTreeSet::from(["subnet-a".into()]),
            security_groups: BTreeSet::from(["sg-1".into()]),
        }
    }

    #[test]
    fn each_drifted_setting_is_named_and_nothing_else() {
        assert!(changed_fields(&config(), &config()).is_empty());
        let mut drifted = config();
        drifted.timeout = 30;
        drifted
            .environment
            .insert("CONNECTION_URL".into(), "postgres://u:p@h/d".into());
        assert_eq!(
            changed_fields(&drifted, &config()),
            vec!["timeout", "environment"]
        );
        let mut moved = config();
        moved.security_groups = BTreeSet::from(["sg-2".into()]);
        assert_eq!(changed_fields(&moved, &config()), vec!["network"]);
    }
}
