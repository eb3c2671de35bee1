//! `cruddur rds allow-sg | revoke | audit`: who may reach the database, as the seed's security
//! quiz says it should be — by security group, never from everywhere.

use anyhow::Context;
use aws::audit::{self, Level};
use aws::ingress::{self, RuleChange, Source};

use crate::output;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AllowSgArgs {
    /// The security group to admit (the app's, the Lambda's): tcp 5432 from its members.
    #[arg(long)]
    pub from: String,
    /// Security group of the database.
    #[arg(long, env = "DB_SG_ID")]
    pub group_id: Option<String>,
    /// The rule's description.
    #[arg(
        long,
        default_value = "cruddur: PostgreSQL from the app's security group"
    )]
    pub description: String,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RevokeArgs {
    /// Remove the rules admitting this security group.
    #[arg(long, required_unless_present = "ip", conflicts_with = "ip")]
    pub from: Option<String>,
    /// Remove the rules admitting this address or range (203.0.113.7 means /32; 0.0.0.0/0).
    #[arg(long, required_unless_present = "from")]
    pub ip: Option<String>,
    /// Security group of the database.
    #[arg(long, env = "DB_SG_ID")]
    pub group_id: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AuditArgs {
    #[command(flatten)]
    pub instance: crate::rds_args::InstanceArgs,
}

pub(crate) async fn allow_sg(config: &aws::SdkConfig, args: AllowSgArgs) -> anyhow::Result<()> {
    output::heading("rds-allow-sg");
    let group = args.group_id.ok_or(aws::AwsError::MissingEnv("DB_SG_ID"))?;
    let Source::Group(from) = Source::parse_group(&args.from)? else {
        unreachable!("parse_group returns a group")
    };
    let description = aws::security_group::rule_description_text(&args.description);
    let change = ingress::allow_group(&aws::ec2_client(config), &group, &from, &description)
        .await
        .with_context(|| format!("cannot admit {from} into {group}"))?;
    match change {
        RuleChange::Added => output::line(format!(
            "{group} now admits tcp {} from security group {from}",
            aws::security_group::POSTGRES_PORT
        )),
        _ => output::line(format!(
            "{group} already admits tcp {} from security group {from}; nothing changed",
            aws::security_group::POSTGRES_PORT
        )),
    }
    Ok(())
}

pub(crate) async fn revoke(config: &aws::SdkConfig, args: RevokeArgs) -> anyhow::Result<()> {
    output::heading("rds-revoke");
    let group = args.group_id.ok_or(aws::AwsError::MissingEnv("DB_SG_ID"))?;
    let source = match (&args.from, &args.ip) {
        (Some(from), None) => Source::parse_group(from)?,
        (None, Some(ip)) => Source::parse_cidr(ip)?,
        _ => anyhow::bail!("give one of --from sg-… or --ip ADDRESS"),
    };
    match ingress::revoke(&aws::ec2_client(config), &group, &source).await? {
        RuleChange::Removed(rules) => output::line(format!(
            "{group} no longer admits PostgreSQL from {source} (removed {})",
            rules.join(", ")
        )),
        _ => output::line(format!(
            "{group} has no rule admitting PostgreSQL from {source}; nothing changed"
        )),
    }
    Ok(())
}

/// Prints the findings; `Err` when one of them fails the audit.
pub(crate) async fn audit(config: &aws::SdkConfig, args: AuditArgs) -> anyhow::Result<()> {
    output::heading("rds-audit");
    let id = &args.instance.identifier;
    let (info, findings) =
        audit::audit(&aws::rds_client(config), &aws::ec2_client(config), id).await?;
    output::line(format!(
        "{id}: security groups {}, subnet group {}",
        if info.security_groups.is_empty() {
            "-".to_owned()
        } else {
            info.security_groups.join(", ")
        },
        info.subnet_group.as_deref().unwrap_or("-")
    ));
    print_findings(&findings);
    let failed = findings.iter().filter(|f| f.level == Level::Fail).count();
    if failed > 0 {
        anyhow::bail!("{id}: {failed} finding(s) against the practice");
    }
    output::line(format!("{id}: nothing against the practice"));
    Ok(())
}

pub(crate) fn print_findings(findings: &[audit::Finding]) {
    for finding in findings {
        let tag = match finding.level {
            Level::Fail => "FAIL",
            Level::Warn => "warn",
        };
        output::line(format!("{tag}  {}", finding.text));
    }
}
