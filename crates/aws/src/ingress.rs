//! The database security group's inbound PostgreSQL rules: admit another security group (the
//! quiz's best practice), revoke a rule, and list them for the audit.

use std::net::IpAddr;

use aws_sdk_ec2::types::{Filter, IpPermission, UserIdGroupPair};
use aws_sdk_ec2::Client;

use crate::error::{AwsError, SdkFailure};
use crate::security_group::POSTGRES_PORT;

/// Where an inbound rule admits traffic from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Another security group (`UserIdGroupPairs`).
    Group(String),
    /// An IPv4 or IPv6 range.
    Cidr(String),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Group(id) => f.write_str(id),
            Self::Cidr(cidr) => f.write_str(cidr),
        }
    }
}

impl Source {
    /// An address or range for `--ip`: a bare address means that one host (/32 or /128).
    pub fn parse_cidr(raw: &str) -> Result<Self, AwsError> {
        let raw = raw.trim();
        let (addr, prefix) = match raw.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (raw, None),
        };
        let ip: IpAddr = addr.parse().map_err(|_| {
            AwsError::Invalid(format!("`{raw}` is not an IP address or CIDR range"))
        })?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix =
            match prefix {
                None => max,
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                    AwsError::Invalid(format!("`{raw}` has no valid prefix length"))
                })?,
            };
        Ok(Self::Cidr(format!("{ip}/{prefix}")))
    }

    /// Whether a group id looks like one (`sg-` and hex digits).
    pub fn parse_group(raw: &str) -> Result<Self, AwsError> {
        let raw = raw.trim();
        let hex = raw.strip_prefix("sg-").unwrap_or_default();
        if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(AwsError::Invalid(format!(
                "`{raw}` is not a security group id (sg-…)"
            )));
        }
        Ok(Self::Group(raw.to_owned()))
    }
}

/// An inbound rule of a group, as the audit and `revoke` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundRule {
    pub rule_id: String,
    pub protocol: String,
    pub from_port: Option<i32>,
    pub to_port: Option<i32>,
    pub source: Option<Source>,
    pub description: Option<String>,
}

impl InboundRule {
    /// Whether the rule lets PostgreSQL's port in (all protocols, or tcp over a range holding it).
    pub fn admits_postgres(&self) -> bool {
        match self.protocol.as_str() {
            "-1" | "all" => true,
            "tcp" | "6" => {
                let from = self.from_port.unwrap_or(-1);
                let to = self.to_port.unwrap_or(-1);
                (from == -1 && to == -1) || (from <= POSTGRES_PORT && POSTGRES_PORT <= to)
            }
            _ => false,
        }
    }

    /// Open to every address: 0.0.0.0/0 or ::/0.
    pub fn is_open_to_the_world(&self) -> bool {
        matches!(&self.source, Some(Source::Cidr(c)) if c == "0.0.0.0/0" || c == "::/0")
    }

    /// A single host: /32 or /128.
    pub fn is_single_host(&self) -> bool {
        matches!(&self.source, Some(Source::Cidr(c)) if c.ends_with("/32") || c.ends_with("/128"))
    }
}

/// The inbound rules of `group`.
pub async fn inbound_rules(client: &Client, group: &str) -> Result<Vec<InboundRule>, AwsError> {
    let mut rules = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let output = client
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(group).build())
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| group_error(SdkFailure::from(e), group))?;
        for rule in output.security_group_rules() {
            if rule.is_egress().unwrap_or(false) {
                continue;
            }
            let source = if let Some(referenced) = rule.referenced_group_info() {
                referenced.group_id().map(|g| Source::Group(g.to_owned()))
            } else if let Some(v4) = rule.cidr_ipv4() {
                Some(Source::Cidr(v4.to_owned()))
            } else {
                rule.cidr_ipv6().map(|v6| Source::Cidr(v6.to_owned()))
            };
            rules.push(InboundRule {
                rule_id: rule.security_group_rule_id().unwrap_or_default().to_owned(),
                protocol: rule.ip_protocol().unwrap_or("-1").to_owned(),
                from_port: rule.from_port(),
                to_port: rule.to_port(),
                source,
                description: rule.description().map(str::to_owned),
            });
        }
        match output.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_owned()),
            _ => return Ok(rules),
        }
    }
}

/// A security group's VPC, checking it exists.
pub async fn vpc_of(client: &Client, group: &str) -> Result<String, AwsError> {
    let output = client
        .describe_security_groups()
        .group_ids(group)
        .send()
        .await
        .map_err(|e| group_error(SdkFailure::from(e), group))?;
    output
        .security_groups()
        .first()
        .and_then(|g| g.vpc_id())
        .map(str::to_owned)
        .ok_or_else(|| AwsError::GroupNotFound(group.to_owned()))
}

/// What [`allow_group`] and [`revoke`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleChange {
    Added,
    AlreadyThere,
    Removed(Vec<String>),
    NothingToRemove,
}

/// Admits tcp 5432 from security group `from` into `group`, described; idempotent.
pub async fn allow_group(
    client: &Client,
    group: &str,
    from: &str,
    description: &str,
) -> Result<RuleChange, AwsError> {
    let here = vpc_of(client, group).await?;
    let there = vpc_of(client, from).await?;
    if here != there {
        return Err(AwsError::Invalid(format!(
            "security group {from} is in {there}, the database's {group} in {here}: a rule can name a group of another VPC only across a peering connection; use a group of {here}"
        )));
    }
    let wanted = Source::Group(from.to_owned());
    let existing = inbound_rules(client, group).await?;
    if existing
        .iter()
        .any(|r| r.source.as_ref() == Some(&wanted) && r.admits_postgres())
    {
        return Ok(RuleChange::AlreadyThere);
    }
    let permission = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(POSTGRES_PORT)
        .to_port(POSTGRES_PORT)
        .user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(from)
                .description(description)
                .build(),
        )
        .build();
    match client
        .authorize_security_group_ingress()
        .group_id(group)
        .ip_permissions(permission)
        .send()
        .await
    {
        Ok(_) => {
            tracing::info!(group, from, "security group rule added");
            Ok(RuleChange::Added)
        }
        Err(e) => {
            let failure = SdkFailure::from(e);
            // Added by someone else between our look and our write.
            if failure.code.as_deref() == Some("InvalidPermission.Duplicate") {
                Ok(RuleChange::AlreadyThere)
            } else {
                Err(group_error(failure, group))
            }
        }
    }
}

/// Removes every inbound rule of `group` admitting PostgreSQL from `source`.
pub async fn revoke(client: &Client, group: &str, source: &Source) -> Result<RuleChange, AwsError> {
    let matching: Vec<InboundRule> = inbound_rules(client, group)
        .await?
        .into_iter()
        .filter(|r| r.source.as_ref() == Some(source) && r.admits_postgres())
        .collect();
    if matching.is_empty() {
        return Ok(RuleChange::NothingToRemove);
    }
    // By rule id: exact, whatever the rule's other fields (description, owner) say.
    client
        .revoke_security_group_ingress()
        .group_id(group)
        .set_security_group_rule_ids(Some(matching.iter().map(|r| r.rule_id.clone()).collect()))
        .send()
        .await
        .map_err(|e| group_error(SdkFailure::from(e), group))?;
    tracing::info!(group, %source, "security group rules removed");
    Ok(RuleChange::Removed(
        matching.into_iter().map(|r| r.rule_id).collect(),
    ))
}

fn group_error(failure: SdkFailure, group: &str) -> AwsError {
    match failure.code.as_deref() {
        Some("InvalidGroup.NotFound" | "InvalidGroupId.Malformed" | "InvalidGroupId.NotFound") => {
            // The message names which group when a rule references another.
            AwsError::Invalid(format!(
                "security group not found ({}): {}",
                failure.code.as_deref().unwrap_or_default(),
                if failure.message.contains("sg-") {
                    failure.message
                } else {
                    group.to_owned()
                }
            ))
        }
        _ => failure.into_error(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: &str, from: i32, to: i32, source: &str) -> InboundRule {
        InboundRule {
            rule_id: "sgr-1".into(),
            protocol: protocol.into(),
            from_port: Some(from),
            to_port: Some(to),
            source: Some(Source::Cidr(source.into())),
            description: None,
        }
    }

    #[test]
    fn sources_parse_into_canonical_ranges() {
        assert_eq!(
            Source::parse_cidr("203.0.113.7").unwrap(),
            Source::Cidr("203.0.113.7/32".into())
        );
        assert_eq!(
            Source::parse_cidr("10.0.0.0/8").unwrap(),
            Source::Cidr("10.0.0.0/8".into())
        );
        assert_eq!(
            Source::parse_cidr("2001:db8::1").unwrap(),
            Source::Cidr("2001:db8::1/128".into())
        );
        for bad in ["", "10.0.0.0/33", "host.example", "1.2.3.4/x", "::/129"] {
            assert!(Source::parse_cidr(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Source::parse_group("sg-0abc12").unwrap(),
            Source::Group("sg-0abc12".into())
        );
        for bad in ["", "sg-", "sgr-0abc", "sg-xyz", "0abc"] {
            assert!(Source::parse_group(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rules_that_reach_postgres_and_rules_open_to_everyone_are_told_apart() {
        assert!(rule("tcp", 5432, 5432, "10.0.0.0/16").admits_postgres());
        assert!(rule("tcp", 0, 65535, "10.0.0.0/16").admits_postgres());
        assert!(rule("-1", -1, -1, "10.0.0.0/16").admits_postgres());
        assert!(!rule("tcp", 22, 22, "0.0.0.0/0").admits_postgres());
        assert!(!rule("udp", 5432, 5432, "0.0.0.0/0").admits_postgres());
        assert!(rule("tcp", 5432, 5432, "0.0.0.0/0").is_open_to_the_world());
        assert!(rule("tcp", 5432, 5432, "::/0").is_open_to_the_world());
        assert!(!rule("tcp", 5432, 5432, "0.0.0.0/1").is_open_to_the_world());
        assert!(rule("tcp", 5432, 5432, "203.0.113.7/32").is_single_host());
        assert!(!rule("tcp", 5432, 5432, "203.0.113.0/24").is_single_host());
    }
}
