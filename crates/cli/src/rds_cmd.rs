//! `cruddur rds …`: the seed's RDS and security-group steps through the AWS SDK.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context;
use aws::rds::{self, CreateOptions, FinalSnapshot, MasterCredentials, Transition, WaitTarget};
use aws::security_group::{self, AllowOutcome};
use secrecy::SecretString;

use crate::output;
use crate::rds_args::InstanceArgs;
use crate::rds_network_cmd;

/// Where `rds status` assumes Amazon's CA bundle lives in the printed URL.
const DEFAULT_BUNDLE_PATH: &str = "/path/to/global-bundle.pem";

#[derive(Debug, clap::Subcommand)]
pub(crate) enum RdsCommand {
    /// Create the instance with the seed's options (each a flag).
    Create(Box<CreateArgs>),
    /// State, class, engine, endpoint, read replicas and a ready-to-paste PROD_CONNECTION_URL
    /// (password masked).
    Status(StatusArgs),
    /// Ask for a read replica of the instance (its own endpoint, for READ_CONNECTION_URL).
    CreateReplica(CreateReplicaArgs),
    /// Make a read replica a standalone instance that accepts writes (one-way; needs --yes).
    Promote(PromoteArgs),
    /// Stop the instance (AWS restarts a stopped instance after seven days).
    Stop(InstanceArgs),
    /// Start a stopped instance.
    Start(InstanceArgs),
    /// Delete the instance; needs --yes and an explicit final-snapshot choice.
    Delete(DeleteArgs),
    /// Wait until the instance is available or stopped, showing progress.
    Wait(WaitArgs),
    /// Point security-group rule DB_SG_RULE_ID of DB_SG_ID at this machine: tcp 5432 from IP/32.
    AllowIp(AllowIpArgs),
    /// Admit another security group (the app's, the Lambda's) into DB_SG_ID on tcp 5432: the
    /// private way in (idempotent).
    AllowSg(rds_network_cmd::AllowSgArgs),
    /// Remove DB_SG_ID's rules admitting PostgreSQL from a security group or an address.
    Revoke(rds_network_cmd::RevokeArgs),
    /// Check the instance against the security quiz: public address, rules open to the world or
    /// to single addresses, encryption, backups, deletion protection, a managed master secret;
    /// exits non-zero when something is wrong.
    Audit(rds_network_cmd::AuditArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// Instance class.
    #[arg(long, default_value = "db.t3.micro")]
    pub class: String,
    #[arg(long, default_value = "postgres")]
    pub engine: String,
    #[arg(long, default_value = "14.6")]
    pub engine_version: String,
    /// Storage in GB.
    #[arg(long, default_value_t = 20)]
    pub allocated_storage: i32,
    #[arg(long, default_value = "gp2")]
    pub storage_type: String,
    /// Database created inside the instance.
    #[arg(long, default_value = "cruddur")]
    pub db_name: String,
    #[arg(long, default_value_t = 5432)]
    pub port: i32,
    /// Run a standby in a second availability zone (costs double).
    #[arg(long)]
    pub multi_az: bool,
    /// Days of automated backups (0 = none, as in the seed).
    #[arg(long, default_value_t = 0)]
    pub backup_retention: i32,
    /// Encrypt storage at rest.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub storage_encrypted: bool,
    /// Performance Insights retention in days (0 turns it off).
    #[arg(long, default_value_t = 7)]
    pub performance_insights_days: i32,
    /// Refuse deletion until turned off again.
    #[arg(long)]
    pub deletion_protection: bool,
    /// Give the instance a public address. Risky: only the security group then stands between
    /// the internet and the database.
    #[arg(long)]
    pub public: bool,
    /// e.g. ca-central-1a; AWS picks one when absent.
    #[arg(long)]
    pub availability_zone: Option<String>,
    /// The DB subnet group to place the instance in (private subnets).
    #[arg(long, conflicts_with_all = ["vpc_id", "subnets"])]
    pub subnet_group: Option<String>,
    /// Make a subnet group `<identifier>-private` of --subnets in this VPC (each checked to be
    /// in it and to have no route to an internet gateway unless --public).
    #[arg(long, requires = "subnets")]
    pub vpc_id: Option<String>,
    /// Subnets for --vpc-id, comma-separated, in at least two availability zones.
    #[arg(long, value_delimiter = ',', requires = "vpc_id")]
    pub subnets: Vec<String>,
    /// The instance's security group (repeatable); the VPC's default group when absent.
    #[arg(long = "security-group")]
    pub security_groups: Vec<String>,
    /// Let IAM users and roles log in with tokens (DB_AUTH=iam).
    #[arg(long)]
    pub iam_database_authentication: bool,
    /// Let RDS generate the master password and keep it in Secrets Manager.
    #[arg(long)]
    pub manage_master_user_password: bool,
    /// Master user name.
    #[arg(long, env = "MASTER_USERNAME")]
    pub master_username: Option<String>,
    /// Master password (from the environment; never printed).
    #[arg(
        long,
        env = "MASTER_USER_PASSWORD",
        hide_env_values = true,
        hide = true
    )]
    pub master_user_password: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// Also connect to the instance through PROD_CONNECTION_URL and show each streaming
    /// replica's replay lag as the source reports it (pg_stat_replication).
    #[arg(long)]
    pub lag: bool,
    #[arg(
        long = "prod-connection-url",
        env = "PROD_CONNECTION_URL",
        hide_env_values = true,
        hide = true
    )]
    pub prod_connection_url: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CreateReplicaArgs {
    /// The instance to replicate.
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// Identifier of the new replica.
    #[arg(long)]
    pub replica: String,
    /// Instance class of the replica (the source's when absent).
    #[arg(long)]
    pub class: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PromoteArgs {
    /// The read replica to promote.
    #[arg(long)]
    pub replica: String,
    /// Confirm: the replica stops following its source for good.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// Confirm the deletion.
    #[arg(long)]
    pub yes: bool,
    /// Delete without a final snapshot: the data is gone.
    #[arg(long, conflicts_with = "final_snapshot_id")]
    pub skip_final_snapshot: bool,
    /// Keep the data in a final snapshot with this name.
    #[arg(long)]
    pub final_snapshot_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Until {
    Available,
    Stopped,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WaitArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    #[arg(long, value_enum)]
    pub until: Until,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1800)]
    pub timeout_secs: u64,
    /// Seconds between polls.
    #[arg(long, default_value_t = 15)]
    pub interval_secs: u64,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AllowIpArgs {
    /// The address to allow; detected from --ip-url when absent.
    #[arg(long)]
    pub ip: Option<String>,
    /// Security group of the database.
    #[arg(long, env = "DB_SG_ID")]
    pub group_id: Option<String>,
    /// The rule of that group to rewrite.
    #[arg(long, env = "DB_SG_RULE_ID")]
    pub rule_id: Option<String>,
    /// URL answering with this machine's public IPv4 address.
    #[arg(long, env = "CRUDDUR_IP_URL", default_value = aws::public_ip::DEFAULT_IP_URL)]
    pub ip_url: String,
}

pub(crate) async fn run(command: RdsCommand) -> anyhow::Result<()> {
    let config = aws::load_checked().await?;
    match command {
        RdsCommand::Create(args) => create(&config, *args).await,
        RdsCommand::Status(args) => status(&config, args).await,
        RdsCommand::CreateReplica(args) => {
            output::heading("rds-create-replica");
            let info = rds::create_replica(
                &aws::rds_client(&config),
                &args.instance.identifier,
                &args.replica,
                args.class.as_deref(),
            )
            .await?;
            output::line(format!(
                "creating {} as a read replica of {} ({}): `cruddur rds wait --identifier {} --until available`, then add its endpoint to READ_CONNECTION_URL",
                info.identifier, args.instance.identifier, info.status, info.identifier
            ));
            Ok(())
        }
        RdsCommand::Promote(args) => {
            output::heading("rds-promote");
            if !args.yes {
                anyhow::bail!(
                    "refusing to promote {} without --yes: it stops following its source for good",
                    args.replica
                );
            }
            let info = rds::promote(&aws::rds_client(&config), &args.replica).await?;
            output::line(format!(
                "promoting {} ({}); remove it from READ_CONNECTION_URL — cruddur stops reading from a standby that is no longer in recovery by itself",
                info.identifier, info.status
            ));
            Ok(())
        }
        RdsCommand::Stop(args) => {
            output::heading("rds-stop");
            let outcome = rds::stop(&aws::rds_client(&config), &args.identifier).await?;
            report_transition(&args.identifier, outcome, "stopped");
            Ok(())
        }
        RdsCommand::Start(args) => {
            output::heading("rds-start");
            let outcome = rds::start(&aws::rds_client(&config), &args.identifier).await?;
            report_transition(&args.identifier, outcome, "available");
            Ok(())
        }
        RdsCommand::Delete(args) => delete(&config, args).await,
        RdsCommand::Wait(args) => wait(&config, args).await,
        RdsCommand::AllowIp(args) => allow_ip(&config, args).await,
        RdsCommand::AllowSg(args) => rds_network_cmd::allow_sg(&config, args).await,
        RdsCommand::Revoke(args) => rds_network_cmd::revoke(&config, args).await,
        RdsCommand::Audit(args) => rds_network_cmd::audit(&config, args).await,
    }
}

async fn create(config: &aws::SdkConfig, args: CreateArgs) -> anyhow::Result<()> {
    output::heading("rds-create");
    let username = args
        .master_username
        .clone()
        .ok_or(aws::AwsError::MissingEnv("MASTER_USERNAME"))?;
    let credentials = if args.manage_master_user_password {
        MasterCredentials::ManagedByRds { username }
    } else {
        let password = args
            .master_user_password
            .clone()
            .ok_or(aws::AwsError::MissingEnv("MASTER_USER_PASSWORD"))
            .context("set it, or pass --manage-master-user-password")?;
        if password.chars().count() < 8 {
            anyhow::bail!("MASTER_USER_PASSWORD must have at least 8 characters (an RDS rule)");
        }
        MasterCredentials::Given {
            username,
            password: SecretString::from(password),
        }
    };
    if args.public {
        tracing::warn!(
            "--public: the instance gets a public address, so only its security group stands between the internet and the database; prefer `cruddur rds allow-ip` with a /32 rule and stop the instance when idle"
        );
        output::line("warning: publicly accessible (see the log line above for the risk)");
    }
    for group in &args.security_groups {
        aws::ingress::Source::parse_group(group)?;
    }
    // Checked before anything is created: a subnet that is public or in another VPC stops here.
    let subnet_group = match (&args.subnet_group, &args.vpc_id) {
        (Some(name), _) => Some(name.clone()),
        (None, Some(vpc)) => Some(
            aws::subnet_group::ensure(
                &aws::ec2_client(config),
                &aws::rds_client(config),
                &format!("{}-private", args.instance.identifier),
                vpc,
                &args.subnets,
                args.public,
            )
            .await?,
        ),
        (None, None) => None,
    };
    let options = CreateOptions {
        identifier: args.instance.identifier.clone(),
        class: args.class,
        engine: args.engine,
        engine_version: args.engine_version,
        allocated_storage_gb: args.allocated_storage,
        storage_type: args.storage_type,
        db_name: args.db_name,
        port: args.port,
        multi_az: args.multi_az,
        backup_retention_days: args.backup_retention,
        storage_encrypted: args.storage_encrypted,
        performance_insights_days: (args.performance_insights_days > 0)
            .then_some(args.performance_insights_days),
        deletion_protection: args.deletion_protection,
        publicly_accessible: args.public,
        availability_zone: args.availability_zone,
        credentials,
        subnet_group,
        security_groups: args.security_groups,
        iam_database_authentication: args.iam_database_authentication,
    };
    let info = rds::create(&aws::rds_client(config), &options).await?;
    output::line(format!(
        "creating {} ({}); this takes 10–15 minutes: `cruddur rds wait --until available`",
        info.identifier, info.status
    ));
    Ok(())
}

async fn status(config: &aws::SdkConfig, args: StatusArgs) -> anyhow::Result<()> {
    output::heading("rds-status");
    let client = aws::rds_client(config);
    let info = rds::describe(&client, &args.instance.identifier).await?;
    print_info(&info);
    // The audit's summary; `rds audit` has the details and the exit status.
    match aws::audit::findings(&aws::ec2_client(config), &info).await {
        Ok(findings) => {
            let to_fix = findings
                .iter()
                .filter(|f| f.level == aws::audit::Level::Fail)
                .count();
            output::line(format!(
                "audit:      {to_fix} to fix, {} to note (`cruddur rds audit` for each)",
                findings.len() - to_fix
            ));
        }
        Err(e) => output::line(format!(
            "audit:      cannot read the security groups' rules ({e})"
        )),
    }
    if let Some(source) = &info.replica_of {
        output::line(format!("replica of: {source}"));
    }
    if info.replicas.is_empty() {
        output::line("replicas:   none (`cruddur rds create-replica --replica NAME`)");
    }
    for replica in &info.replicas {
        match rds::describe(&client, replica).await {
            Ok(r) => output::line(format!(
                "replica:    {} {} {}",
                r.identifier,
                r.status,
                r.endpoint
                    .as_ref()
                    .map(|(h, p)| format!("{h}:{p}"))
                    .unwrap_or_else(|| "(no endpoint yet)".into())
            )),
            Err(e) => output::line(format!("replica:    {replica} ({e})")),
        }
    }
    if args.lag {
        crate::target::refuse_password_in_argv(
            args.prod_connection_url.as_deref(),
            "PROD_CONNECTION_URL",
            "--prod-connection-url",
        )?;
        let raw = args
            .prod_connection_url
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or(aws::AwsError::MissingEnv("PROD_CONNECTION_URL"))
            .context("--lag connects to the instance")?;
        let settings = crate::target::with_env_password(
            db::DatabaseUrl::new(raw)
                .parse()
                .context("PROD_CONNECTION_URL is not usable")?,
        );
        let standbys = db::admin::replication(&db::pool::connect(&settings).await?).await?;
        if standbys.is_empty() {
            output::line("lag:        no replica is streaming from it");
        }
        for standby in standbys {
            let behind = match (standby.unreplayed_bytes, standby.replay_lag_ms) {
                (Some(0), _) => "nothing left to replay".to_owned(),
                (bytes, lag) => format!(
                    "{} bytes of WAL not replayed, replay {} behind",
                    bytes.map_or_else(|| "?".to_owned(), |b| b.to_string()),
                    lag.map_or_else(|| "? ms".to_owned(), |ms| format!("{ms:.1} ms"))
                ),
            };
            output::line(format!(
                "lag:        {} {}: {behind}",
                standby.name, standby.state
            ));
        }
    }
    Ok(())
}

fn print_info(info: &rds::InstanceInfo) {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    output::line(format!("identifier: {}", info.identifier));
    output::line(format!("state:      {}", info.status));
    output::line(format!("class:      {}", info.class));
    output::line(format!(
        "engine:     {} {}",
        info.engine, info.engine_version
    ));
    output::line(format!(
        "endpoint:   {}",
        or_dash(info.endpoint.as_ref().map(|(h, p)| format!("{h}:{p}")))
    ));
    output::line(format!(
        "storage:    {} GB {}{}",
        or_dash(info.allocated_storage_gb.map(|g| g.to_string())),
        or_dash(info.storage_type.clone()),
        if info.storage_encrypted == Some(true) {
            ", encrypted"
        } else {
            ""
        }
    ));
    output::line(format!(
        "public:     {}",
        or_dash(info.publicly_accessible.map(|p| p.to_string()))
    ));
    if let Some(arn) = &info.master_secret_arn {
        output::line(format!(
            "secret:     export DB_AUTH=secret DB_SECRET_ARN='{arn}' (the master user's; use `cruddur db create-app-user --secret` for the app)"
        ));
    }
    match info.connection_url(DEFAULT_BUNDLE_PATH) {
        Some(url) => output::line(format!("export PROD_CONNECTION_URL='{url}'")),
        None => output::line("PROD_CONNECTION_URL: no endpoint yet (wait until available)"),
    }
}

fn report_transition(identifier: &str, outcome: Transition, goal: &str) {
    match outcome {
        Transition::Requested(info) => output::line(format!(
            "{identifier}: {} (wait with `cruddur rds wait --until {goal}`)",
            info.status
        )),
        Transition::AlreadyThere(state) => {
            output::line(format!("{identifier} is already {state}; nothing to do"))
        }
    }
}

async fn delete(config: &aws::SdkConfig, args: DeleteArgs) -> anyhow::Result<()> {
    output::heading("rds-delete");
    let id = &args.instance.identifier;
    if !args.yes {
        anyhow::bail!("refusing to delete {id} without --yes");
    }
    let snapshot = match (args.skip_final_snapshot, args.final_snapshot_id) {
        (true, None) => FinalSnapshot::Skip,
        (false, Some(name)) => FinalSnapshot::Take(name),
        _ => anyhow::bail!(
            "choose what happens to the data: --final-snapshot-id NAME (kept) or --skip-final-snapshot (gone)"
        ),
    };
    let info = rds::delete(&aws::rds_client(config), id, &snapshot).await?;
    output::line(format!("{id}: {}", info.status));
    Ok(())
}

async fn wait(config: &aws::SdkConfig, args: WaitArgs) -> anyhow::Result<()> {
    output::heading("rds-wait");
    let target = match args.until {
        Until::Available => WaitTarget::Available,
        Until::Stopped => WaitTarget::Stopped,
    };
    let spinner = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let id = args.instance.identifier.clone();
    let result = rds::wait(
        &aws::rds_client(config),
        &id,
        target,
        Duration::from_secs(args.timeout_secs),
        Duration::from_secs(args.interval_secs),
        |state, waited| {
            let text = format!("{id}: {state} ({} s)", waited.as_secs());
            match &spinner {
                Some(bar) => bar.set_message(text),
                None => output::line(text),
            }
        },
    )
    .await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let info = result?;
    output::line(format!("{} is {}", info.identifier, info.status));
    Ok(())
}

async fn allow_ip(config: &aws::SdkConfig, args: AllowIpArgs) -> anyhow::Result<()> {
    output::heading("rds-allow-ip");
    let group = args.group_id.ok_or(aws::AwsError::MissingEnv("DB_SG_ID"))?;
    let rule = args
        .rule_id
        .ok_or(aws::AwsError::MissingEnv("DB_SG_RULE_ID"))?;
    let ip = match args.ip {
        Some(raw) => security_group::parse_ip(&raw)?,
        None => {
            let ip = aws::public_ip::detect(&args.ip_url).await?;
            output::line(format!("public address {ip} (from {})", args.ip_url));
            ip
        }
    };
    let description = security_group::rule_description(&machine_name());
    match security_group::allow_ip(&aws::ec2_client(config), &group, &rule, ip, &description)
        .await?
    {
        AllowOutcome::Changed { before, after } => output::line(format!(
            "rule {rule} of {group}: {} -> {} (tcp {})",
            before.cidr_ipv4.as_deref().unwrap_or("-"),
            after.cidr_ipv4.as_deref().unwrap_or("-"),
            security_group::POSTGRES_PORT
        )),
        AllowOutcome::AlreadyAllowed(state) => output::line(format!(
            "rule {rule} of {group} already allows {}; nothing changed",
            state.cidr_ipv4.as_deref().unwrap_or("-")
        )),
    }
    Ok(())
}

fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}
