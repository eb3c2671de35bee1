//! `rds audit`: the instance against the seed's own security quiz — never public, reached by
//! security group rather than by address, encrypted, backed up, protected from deletion, its
//! master password kept (and rotated) by RDS in Secrets Manager.

use crate::error::AwsError;
use crate::ingress::{self, InboundRule};
use crate::rds::{self, InstanceInfo};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Worth knowing, not wrong in itself (a developer's /32 rule).
    Warn,
    /// Against the practice: `rds audit` exits non-zero.
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub text: String,
}

impl Finding {
    fn fail(text: impl Into<String>) -> Self {
        Self {
            level: Level::Fail,
            text: text.into(),
        }
    }

    fn warn(text: impl Into<String>) -> Self {
        Self {
            level: Level::Warn,
            text: text.into(),
        }
    }
}

/// What the instance's own settings say.
pub fn instance_findings(info: &InstanceInfo) -> Vec<Finding> {
    let mut found = Vec::new();
    if info.publicly_accessible == Some(true) {
        found.push(Finding::fail(
            "publicly accessible: the instance has a public address (modify it with --no-publicly-accessible; reach it through SSM port forwarding instead)",
        ));
    }
    if info.storage_encrypted != Some(true) {
        found.push(Finding::fail(
            "storage not encrypted at rest (set only at creation: snapshot, copy encrypted, restore)",
        ));
    }
    if info.backup_retention_days.unwrap_or(0) == 0 {
        found.push(Finding::fail(
            "automated backups off (backup retention 0 days): no point-in-time recovery",
        ));
    }
    if info.deletion_protection != Some(true) {
        found.push(Finding::fail("deletion protection off"));
    }
    if info.master_secret_arn.is_none() {
        found.push(Finding::fail(
            "the master user's password is not managed by RDS in Secrets Manager (modify it with --manage-master-user-password), so it is neither kept secret nor rotated",
        ));
    }
    found
}

/// What one security group's inbound rules say.
pub fn rule_findings(group: &str, rules: &[InboundRule]) -> Vec<Finding> {
    let mut found = Vec::new();
    for rule in rules.iter().filter(|r| r.admits_postgres()) {
        let source = rule
            .source
            .as_ref()
            .map_or_else(|| "?".to_owned(), ToString::to_string);
        if rule.is_open_to_the_world() {
            found.push(Finding::fail(format!(
                "security group {group} rule {} admits PostgreSQL from {source}: the whole internet (`cruddur rds revoke --ip {source}`)",
                rule.rule_id
            )));
        } else if rule.is_single_host() {
            found.push(Finding::warn(format!(
                "security group {group} rule {} admits PostgreSQL from the single address {source}{}: prefer a rule from the app's security group (`cruddur rds allow-sg`), or remove it when done (`cruddur rds revoke --ip {source}`)",
                rule.rule_id,
                rule.description
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            )));
        }
    }
    found
}

/// The instance and every one of its security groups, audited.
pub async fn audit(
    rds_client: &aws_sdk_rds::Client,
    ec2: &aws_sdk_ec2::Client,
    identifier: &str,
) -> Result<(InstanceInfo, Vec<Finding>), AwsError> {
    let info = rds::describe(rds_client, identifier).await?;
    let found = findings(ec2, &info).await?;
    Ok((info, found))
}

/// The findings for an instance already described, failures first.
pub async fn findings(
    ec2: &aws_sdk_ec2::Client,
    info: &InstanceInfo,
) -> Result<Vec<Finding>, AwsError> {
    let mut found = instance_findings(info);
    for group in &info.security_groups {
        let rules = ingress::inbound_rules(ec2, group).await?;
        found.extend(rule_findings(group, &rules));
    }
    found.sort_by_key(|f| std::cmp::Reverse(f.level));
    Ok(found)
}
