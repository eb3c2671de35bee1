//! The seed's `rds-update-sg-rule`: point one security-group rule at this machine's address.

use std::net::Ipv4Addr;

use aws_sdk_ec2::types::{SecurityGroupRuleRequest, SecurityGroupRuleUpdate};
use aws_sdk_ec2::Client;

use crate::error::{AwsError, SdkFailure};

/// Port of the rule (PostgreSQL).
pub const POSTGRES_PORT: i32 = 5432;

/// A rule as `allow-ip` manages it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleState {
    pub protocol: Option<String>,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub cidr_ipv4: Option<String>,
    pub description: Option<String>,
    /// An outbound rule: `allow-ip` refuses to rewrite one (it would open nothing inbound and
    /// narrow what the database may reach).
    pub egress: bool,
}

/// What [`allow_ip`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowOutcome {
    Changed { before: RuleState, after: RuleState },
    AlreadyAllowed(RuleState),
}

/// Parses an address for a `/32` rule: IPv4, not unspecified, broadcast or multicast.
pub fn parse_ip(raw: &str) -> Result<Ipv4Addr, AwsError> {
    let ip: Ipv4Addr = raw
        .trim()
        .parse()
        .map_err(|_| AwsError::InvalidIp(raw.trim().to_owned()))?;
    if ip.is_unspecified() || ip.is_broadcast() || ip.is_multicast() {
        return Err(AwsError::InvalidIp(raw.trim().to_owned()));
    }
    Ok(ip)
}

/// The description of an `allow-ip` rule for `machine`.
pub fn rule_description(machine: &str) -> String {
    rule_description_text(&format!("cruddur allow-ip from {machine}"))
}

/// `text` as a description EC2 accepts (letters, digits and `._-:/()#,@[]+=&;{}!$*` and
/// spaces, ≤ 255 characters); anything else becomes `-`.
pub fn rule_description_text(text: &str) -> String {
    let allowed = |c: char| c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c);
    text.chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .take(255)
        .collect()
}

pub async fn describe_rule(
    client: &Client,
    group_id: &str,
    rule_id: &str,
) -> Result<RuleState, AwsError> {
    let output = client
        .describe_security_group_rules()
        .security_group_rule_ids(rule_id)
        .send()
        .await
        .map_err(|e| rule_error(SdkFailure::from(e), group_id, rule_id))?;
    let rule = output
        .security_group_rules()
        .iter()
        .find(|r| r.group_id() == Some(group_id))
        .ok_or_else(|| AwsError::RuleNotFound {
            group: group_id.to_owned(),
            rule: rule_id.to_owned(),
        })?;
    Ok(RuleState {
        protocol: rule.ip_protocol().map(str::to_owned),
        from_port: rule.from_port(),
        to_port: rule.to_port(),
        cidr_ipv4: rule.cidr_ipv4().map(str::to_owned),
        description: rule.description().map(str::to_owned),
        egress: rule.is_egress().unwrap_or(false),
    })
}

/// Sets the rule to tcp 5432 from `ip/32`. Idempotent: an identical rule is left alone.
pub async fn allow_ip(
    client: &Client,
    group_id: &str,
    rule_id: &str,
    ip: Ipv4Addr,
    description: &str,
) -> Result<AllowOutcome, AwsError> {
    let before = describe_rule(client, group_id, rule_id).await?;
    if before.egress {
        return Err(AwsError::EgressRule {
            group: group_id.to_owned(),
            rule: rule_id.to_owned(),
        });
    }
    let wanted = RuleState {
        protocol: Some("tcp".into()),
        from_port: Some(POSTGRES_PORT),
        to_port: Some(POSTGRES_PORT),
        cidr_ipv4: Some(format!("{ip}/32")),
        description: Some(description.to_owned()),
        egress: false,
    };
    if before == wanted {
        return Ok(AllowOutcome::AlreadyAllowed(before));
    }
    let update = SecurityGroupRuleUpdate::builder()
        .security_group_rule_id(rule_id)
        .security_group_rule(
            SecurityGroupRuleRequest::builder()
                .ip_protocol("tcp")
                .from_port(POSTGRES_PORT)
                .to_port(POSTGRES_PORT)
                .cidr_ipv4(format!("{ip}/32"))
                .description(description)
                .build(),
        )
        .build();
    client
        .modify_security_group_rules()
        .group_id(group_id)
        .security_group_rules(update)
        .send()
        .await
        .map_err(|e| rule_error(SdkFailure::from(e), group_id, rule_id))?;
    let after = describe_rule(client, group_id, rule_id).await?;
    tracing::info!(group_id, rule_id, cidr = %format!("{ip}/32"), "security group rule updated");
    Ok(AllowOutcome::Changed { before, after })
}

fn rule_error(failure: SdkFailure, group_id: &str, rule_id: &str) -> AwsError {
    match failure.code.as_deref() {
        Some("InvalidSecurityGroupRuleId.NotFound" | "InvalidSecurityGroupRuleId.Malformed") => {
            AwsError::RuleNotFound {
                group: group_id.to_owned(),
                rule: rule_id.to_owned(),
            }
        }
        Some("InvalidGroup.NotFound" | "InvalidGroupId.Malformed") => {
            AwsError::GroupNotFound(group_id.to_owned())
        }
        _ => failure.into_error(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_for_a_32_rule_are_validated() {
        assert_eq!(
            parse_ip(" 203.0.113.7\n").unwrap(),
            Ipv4Addr::new(203, 0, 113, 7)
        );
        for bad in [
            "",
            "300.1.1.1",
            "1.2.3",
            "::1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "1.2.3.4/32",
        ] {
            assert!(parse_ip(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn descriptions_keep_allowed_characters_only() {
        assert_eq!(
            rule_description("ws-01.example"),
            "cruddur allow-ip from ws-01.example"
        );
        assert_eq!(
            rule_description("héllo'\"<x>"),
            "cruddur allow-ip from h-llo---x-"
        );
        assert!(rule_description(&"x".repeat(400)).len() <= 255);
    }
}
