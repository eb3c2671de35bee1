//! `cruddur lambda deploy | status | undeploy`: the seed's console recipe for the Cognito
//! triggers (function, VPC, role, database rule, trigger) as one idempotent command, its check,
//! and its removal (`aws::lambda_deploy`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use aws::lambda_deploy::{self, artifact::Artifact, Clients, DbLogin, DeploySpec};

use crate::output;

/// Where `deploy/lambda/build.sh` leaves the package.
const BUILT_ZIP: &str = "target/lambda/post-confirmation/bootstrap.zip";
const BUILD_SCRIPT: &str = "deploy/lambda/build.sh";

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct FunctionArgs {
    /// The function's name; also its role's, and its security group's when deploy makes one.
    #[arg(long, default_value = lambda_deploy::DEFAULT_FUNCTION_NAME)]
    pub function_name: String,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DeployArgs {
    #[command(flatten)]
    pub function: FunctionArgs,
    /// The user pool whose PreSignUp and PostConfirmation triggers the function answers.
    #[arg(long, env = "AWS_COGNITO_USER_POOL_ID")]
    pub user_pool_id: String,
    /// Private subnets of the database's VPC for the function (comma-separated; two zones).
    #[arg(long, value_delimiter = ',', required = true)]
    pub subnets: Vec<String>,
    /// The function's security group; without it deploy makes (and tags) one.
    #[arg(long)]
    pub security_group: Option<String>,
    /// The database's security group: it is opened to the function's on tcp 5432.
    #[arg(long, env = "DB_SG_ID")]
    pub db_security_group: String,
    /// The secret the function logs in with (name or ARN; `cruddur db create-app-user --secret`
    /// makes one): DB_AUTH=secret, and its role may read this secret only.
    #[arg(long, required_unless_present = "iam", conflicts_with = "iam")]
    pub secret: Option<String>,
    /// Log in with RDS IAM tokens as --db-url's user (DB_AUTH=iam); its role may connect as
    /// that user only.
    #[arg(long, requires = "db_url")]
    pub iam: bool,
    /// The function's CONNECTION_URL, without a password (with --secret: where to connect when
    /// not the secret's host, or TLS settings).
    #[arg(long)]
    pub db_url: Option<String>,
    /// The function's DB_POOLER (`transaction` behind RDS Proxy or PgBouncer).
    #[arg(long, value_parser = pooler)]
    pub db_pooler: Option<String>,
    /// The package to deploy; without it deploy runs deploy/lambda/build.sh (from the
    /// repository's root) and takes its zip.
    #[arg(long, value_name = "FILE")]
    pub zip: Option<PathBuf>,
    /// Print every change deploy would make, and make none.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub function: FunctionArgs,
    /// The pool to check the triggers of; default: the one deploy tagged the function with.
    #[arg(long)]
    pub user_pool_id: Option<String>,
    /// The database's security group to check; default: the one deploy tagged the function with.
    #[arg(long)]
    pub db_security_group: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct UndeployArgs {
    #[command(flatten)]
    pub status: StatusArgs,
    /// Really remove (without it, undeploy lists what it would remove).
    #[arg(long)]
    pub yes: bool,
}

pub(crate) async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    output::heading("lambda-deploy");
    let zip = match &args.zip {
        Some(path) => path.clone(),
        None => build()?,
    };
    let artifact = Artifact::read(&zip)?;
    output::line(format!(
        "package {}: {} bytes, {}, sha256 {}",
        zip.display(),
        artifact.size(),
        artifact.architecture,
        artifact.sha256
    ));
    let db = match (args.secret, args.iam, args.db_url) {
        (Some(secret), false, url) => DbLogin::Secret { secret, url },
        (None, true, Some(url)) => DbLogin::Iam { url },
        _ => bail!("give --secret NAME_OR_ARN, or --iam with --db-url"),
    };
    let spec = DeploySpec {
        function_name: args.function.function_name,
        artifact,
        user_pool_id: args.user_pool_id,
        subnets: args.subnets,
        security_group: args.security_group,
        db_security_group: args.db_security_group,
        db,
        pooler: args.db_pooler,
    };
    let config = aws::load_checked().await?;
    let clients = Clients::new(&config);
    let deployment = lambda_deploy::prepare(&clients, &spec)
        .await
        .with_context(|| format!("cannot deploy {}", spec.function_name))?;
    let name = &spec.function_name;
    if deployment.changes().is_empty() {
        output::line(format!(
            "{name} is deployed as asked ({}); nothing changed",
            deployment.function_arn()
        ));
        return Ok(());
    }
    if args.dry_run {
        for change in deployment.changes() {
            output::line(format!("would: {change}"));
        }
        output::line(format!(
            "dry run: {} change(s), none made",
            deployment.changes().len()
        ));
        return Ok(());
    }
    let count = deployment.changes().len();
    let arn = deployment.function_arn().to_owned();
    deployment
        .apply(&clients, &spec, |change| {
            output::line(format!("done: {change}"));
        })
        .await
        .with_context(|| format!("deploying {name} stopped (run deploy again to continue)"))?;
    output::line(format!("{name} deployed ({arn}): {count} change(s)"));
    Ok(())
}

/// A `DB_POOLER` value the function will accept.
fn pooler(raw: &str) -> Result<String, String> {
    raw.parse::<db::Pooler>().map(|_| raw.to_owned())
}

/// Runs deploy/lambda/build.sh from the repository root (the current folder) and returns its
/// zip.
fn build() -> anyhow::Result<PathBuf> {
    let script = Path::new(BUILD_SCRIPT);
    if !script.is_file() {
        bail!(
            "no --zip given and {BUILD_SCRIPT} is not here: run deploy from the repository's root, or build the package and pass --zip FILE"
        );
    }
    let status = std::process::Command::new(script)
        .status()
        .with_context(|| format!("cannot run {BUILD_SCRIPT}"))?;
    if !status.success() {
        bail!("{BUILD_SCRIPT} failed ({status})");
    }
    Ok(PathBuf::from(BUILT_ZIP))
}

pub(crate) async fn status(args: StatusArgs) -> anyhow::Result<()> {
    output::heading("lambda-status");
    let config = aws::load_checked().await?;
    let clients = Clients::new(&config);
    let name = &args.function.function_name;
    let status =
        lambda_deploy::status::status(&clients, name, args.user_pool_id, args.db_security_group)
            .await?;
    output::line(format!("function     {}", status.function_arn));
    output::line(format!(
        "code         sha256 {}, {} bytes, {}",
        status.code_sha256, status.code_size, status.architecture
    ));
    output::line(format!("role         {}", status.role));
    output::line(format!(
        "network      {}: subnets {}; security groups {}",
        status.vpc.as_deref().unwrap_or("no VPC"),
        status.subnets.join(", "),
        status.security_groups.join(", ")
    ));
    output::line(format!(
        "environment  {}",
        status.environment_keys.join(", ")
    ));
    for check in &status.checks {
        output::line(format!(
            "{}  {}",
            if check.ok { "ok  " } else { "FAIL" },
            check.text
        ));
    }
    let failed = status.checks.iter().filter(|c| !c.ok).count();
    if failed > 0 {
        bail!("{name}: {failed} check(s) failed");
    }
    output::line(format!("{name}: deployed and wired"));
    Ok(())
}

pub(crate) async fn undeploy(args: UndeployArgs) -> anyhow::Result<()> {
    output::heading("lambda-undeploy");
    let config = aws::load_checked().await?;
    let clients = Clients::new(&config);
    let name = args.status.function.function_name.clone();
    let undeployment = lambda_deploy::undeploy::prepare(
        &clients,
        &name,
        args.status.user_pool_id,
        args.status.db_security_group,
    )
    .await?;
    if undeployment.removals().is_empty() {
        output::line(format!("nothing of {name} is deployed here; nothing to do"));
        return Ok(());
    }
    if !args.yes {
        for removal in undeployment.removals() {
            output::line(format!("would: {removal}"));
        }
        bail!(
            "undeploy removes the {} item(s) above; run it again with --yes",
            undeployment.removals().len()
        );
    }
    undeployment
        .apply(&clients, |removal| output::line(format!("done: {removal}")))
        .await
        .with_context(|| format!("undeploying {name} stopped (run it again to continue)"))?;
    output::line(format!(
        "{name} undeployed; the user pool and the database are untouched"
    ));
    Ok(())
}
