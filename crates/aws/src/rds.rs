//! The Cruddur database instance: create with the seed's options, describe, stop, start, delete,
//! and wait for a state.

use std::time::{Duration, Instant};

use aws_sdk_rds::types::DbInstance;
use aws_sdk_rds::Client;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{AwsError, SdkFailure};

/// The seed's `aws rds create-db-instance` options, each overridable.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub identifier: String,
    pub class: String,
    pub engine: String,
    pub engine_version: String,
    pub allocated_storage_gb: i32,
    pub storage_type: String,
    pub db_name: String,
    pub port: i32,
    pub multi_az: bool,
    pub backup_retention_days: i32,
    pub storage_encrypted: bool,
    pub performance_insights_days: Option<i32>,
    pub deletion_protection: bool,
    pub publicly_accessible: bool,
    pub availability_zone: Option<String>,
    pub credentials: MasterCredentials,
    /// The DB subnet group (private subnets); RDS's default VPC group when `None`.
    pub subnet_group: Option<String>,
    /// The instance's VPC security groups; the VPC's default group when empty.
    pub security_groups: Vec<String>,
    /// Let IAM users and roles log in with tokens (`DB_AUTH=iam`).
    pub iam_database_authentication: bool,
}

/// How the master user's password is set.
#[derive(Clone)]
pub enum MasterCredentials {
    /// From MASTER_USERNAME / MASTER_USER_PASSWORD; the password is never printed.
    Given {
        username: String,
        password: SecretString,
    },
    /// RDS generates the password and keeps it in Secrets Manager.
    ManagedByRds { username: String },
}

impl std::fmt::Debug for MasterCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Given { username, .. } => write!(f, "Given({username}, ****)"),
            Self::ManagedByRds { username } => write!(f, "ManagedByRds({username})"),
        }
    }
}

/// What `rds status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceInfo {
    pub identifier: String,
    pub status: String,
    pub class: String,
    pub engine: String,
    pub engine_version: String,
    pub endpoint: Option<(String, i32)>,
    pub db_name: Option<String>,
    pub master_username: Option<String>,
    pub allocated_storage_gb: Option<i32>,
    pub storage_type: Option<String>,
    pub multi_az: Option<bool>,
    pub backup_retention_days: Option<i32>,
    pub storage_encrypted: Option<bool>,
    pub performance_insights_enabled: Option<bool>,
    pub performance_insights_days: Option<i32>,
    pub deletion_protection: Option<bool>,
    pub publicly_accessible: Option<bool>,
    /// The read replicas of this instance.
    pub replicas: Vec<String>,
    /// For a read replica: the instance it replicates.
    pub replica_of: Option<String>,
    pub subnet_group: Option<String>,
    /// The VPC security groups guarding it.
    pub security_groups: Vec<String>,
    /// The master user's password kept by RDS in Secrets Manager: that secret's ARN.
    pub master_secret_arn: Option<String>,
    pub iam_database_authentication: Option<bool>,
}

impl InstanceInfo {
    fn from_sdk(db: &DbInstance) -> Self {
        Self {
            identifier: db.db_instance_identifier().unwrap_or_default().to_owned(),
            status: db.db_instance_status().unwrap_or("unknown").to_owned(),
            class: db.db_instance_class().unwrap_or_default().to_owned(),
            engine: db.engine().unwrap_or_default().to_owned(),
            engine_version: db.engine_version().unwrap_or_default().to_owned(),
            endpoint: db
                .endpoint()
                .and_then(|e| Some((e.address()?.to_owned(), e.port()?))),
            db_name: db.db_name().map(str::to_owned),
            master_username: db.master_username().map(str::to_owned),
            allocated_storage_gb: db.allocated_storage(),
            storage_type: db.storage_type().map(str::to_owned),
            multi_az: db.multi_az(),
            backup_retention_days: db.backup_retention_period(),
            storage_encrypted: db.storage_encrypted(),
            performance_insights_enabled: db.performance_insights_enabled(),
            performance_insights_days: db.performance_insights_retention_period(),
            deletion_protection: db.deletion_protection(),
            publicly_accessible: db.publicly_accessible(),
            replicas: db.read_replica_db_instance_identifiers().to_vec(),
            replica_of: db
                .read_replica_source_db_instance_identifier()
                .map(str::to_owned),
            subnet_group: db
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .map(str::to_owned),
            security_groups: db
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id())
                .map(str::to_owned)
                .collect(),
            master_secret_arn: db
                .master_user_secret()
                .and_then(|s| s.secret_arn())
                .map(str::to_owned),
            iam_database_authentication: db.iam_database_authentication_enabled(),
        }
    }

    /// A ready-to-paste `PROD_CONNECTION_URL` with the password masked, verifying TLS against
    /// Amazon's CA bundle at `bundle_path`.
    pub fn connection_url(&self, bundle_path: &str) -> Option<String> {
        let (host, port) = self.endpoint.as_ref()?;
        let user = self.master_username.as_deref().unwrap_or("postgres");
        let db = self.db_name.as_deref().unwrap_or("postgres");
        Some(format!(
            "postgresql://{user}:****@{host}:{port}/{db}?sslmode=verify-full&sslrootcert={bundle_path}"
        ))
    }
}

/// Creates the instance; it starts in state `creating`.
pub async fn create(client: &Client, options: &CreateOptions) -> Result<InstanceInfo, AwsError> {
    let output = create_request(client, options).send().await.map_err(|e| {
        let failure = SdkFailure::from(e);
        match failure.code.as_deref() {
            Some("DBInstanceAlreadyExists" | "DBInstanceAlreadyExistsFault") => {
                AwsError::InstanceAlreadyExists(options.identifier.clone())
            }
            _ => failure.into_error(),
        }
    })?;
    let db = output
        .db_instance()
        .ok_or_else(|| AwsError::Invalid("create returned no instance".into()))?;
    tracing::info!(identifier = %options.identifier, "DB instance creation requested");
    Ok(InstanceInfo::from_sdk(db))
}

/// The CreateDBInstance request for `options` (separate so tests can inspect what is sent).
fn create_request(
    client: &Client,
    options: &CreateOptions,
) -> aws_sdk_rds::operation::create_db_instance::builders::CreateDBInstanceFluentBuilder {
    let mut request = client
        .create_db_instance()
        .db_instance_identifier(&options.identifier)
        .db_instance_class(&options.class)
        .engine(&options.engine)
        .engine_version(&options.engine_version)
        .allocated_storage(options.allocated_storage_gb)
        .storage_type(&options.storage_type)
        .db_name(&options.db_name)
        .port(options.port)
        .multi_az(options.multi_az)
        .backup_retention_period(options.backup_retention_days)
        .storage_encrypted(options.storage_encrypted)
        .deletion_protection(options.deletion_protection)
        .publicly_accessible(options.publicly_accessible)
        .set_availability_zone(options.availability_zone.clone())
        .set_db_subnet_group_name(options.subnet_group.clone())
        .set_vpc_security_group_ids(
            (!options.security_groups.is_empty()).then(|| options.security_groups.clone()),
        )
        .enable_iam_database_authentication(options.iam_database_authentication);
    request = match options.performance_insights_days {
        Some(days) => request
            .enable_performance_insights(true)
            .performance_insights_retention_period(days),
        None => request.enable_performance_insights(false),
    };
    request = match &options.credentials {
        MasterCredentials::Given { username, password } => request
            .master_username(username)
            .master_user_password(password.expose_secret()),
        MasterCredentials::ManagedByRds { username } => request
            .master_username(username)
            .manage_master_user_password(true),
    };
    request
}

/// Asks for a read replica `replica` of `source` (same engine and credentials; its own
/// endpoint); it starts in state `creating`. `class`: the source's when `None`.
pub async fn create_replica(
    client: &Client,
    source: &str,
    replica: &str,
    class: Option<&str>,
) -> Result<InstanceInfo, AwsError> {
    // Asked first: an error that names the missing source, and a replica id already in use is
    // refused here (the emulator would overwrite it).
    let origin = describe(client, source).await?;
    if origin.backup_retention_days == Some(0) {
        return Err(AwsError::BackupsOff(source.to_owned()));
    }
    match describe(client, replica).await {
        Ok(_) => return Err(AwsError::InstanceAlreadyExists(replica.to_owned())),
        Err(AwsError::InstanceNotFound(_)) => {}
        Err(e) => return Err(e),
    }
    let output = client
        .create_db_instance_read_replica()
        .db_instance_identifier(replica)
        .source_db_instance_identifier(source)
        .set_db_instance_class(class.map(str::to_owned))
        .send()
        .await
        .map_err(|e| {
            let failure = SdkFailure::from(e);
            match failure.code.as_deref() {
                Some("DBInstanceAlreadyExists" | "DBInstanceAlreadyExistsFault") => {
                    AwsError::InstanceAlreadyExists(replica.to_owned())
                }
                _ => instance_error(failure, source),
            }
        })?;
    let db = output
        .db_instance()
        .ok_or_else(|| AwsError::Invalid("create-replica returned no instance".into()))?;
    tracing::info!(%source, %replica, "read replica creation requested");
    Ok(InstanceInfo::from_sdk(db))
}

/// Turns read replica `replica` into a standalone instance: it stops following its source and
/// accepts writes. One-way: it cannot become a replica again.
pub async fn promote(client: &Client, replica: &str) -> Result<InstanceInfo, AwsError> {
    let current = describe(client, replica).await?;
    if current.replica_of.is_none() {
        return Err(AwsError::NotAReplica(replica.to_owned()));
    }
    let output = client
        .promote_read_replica()
        .db_instance_identifier(replica)
        .send()
        .await
        .map_err(|e| instance_error(SdkFailure::from(e), replica))?;
    let db = output
        .db_instance()
        .ok_or_else(|| AwsError::Invalid("promote returned no instance".into()))?;
    tracing::info!(%replica, "read replica promotion requested");
    Ok(InstanceInfo::from_sdk(db))
}

pub async fn describe(client: &Client, identifier: &str) -> Result<InstanceInfo, AwsError> {
    let output = client
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
        .map_err(|e| instance_error(SdkFailure::from(e), identifier))?;
    output
        .db_instances()
        .first()
        .map(InstanceInfo::from_sdk)
        .ok_or_else(|| AwsError::InstanceNotFound(identifier.to_owned()))
}

/// What a stop or start did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    Requested(Box<InstanceInfo>),
    /// The instance was already in (or moving to) the wanted state.
    AlreadyThere(String),
}

/// Stops the instance (AWS starts it again by itself after seven days).
pub async fn stop(client: &Client, identifier: &str) -> Result<Transition, AwsError> {
    let current = describe(client, identifier).await?;
    if matches!(current.status.as_str(), "stopped" | "stopping") {
        return Ok(Transition::AlreadyThere(current.status));
    }
    let output = client
        .stop_db_instance()
        .db_instance_identifier(identifier)
        .send()
        .await
        .map_err(|e| instance_error(SdkFailure::from(e), identifier))?;
    transition(output.db_instance(), identifier)
}

pub async fn start(client: &Client, identifier: &str) -> Result<Transition, AwsError> {
    let current = describe(client, identifier).await?;
    if matches!(current.status.as_str(), "available" | "starting") {
        return Ok(Transition::AlreadyThere(current.status));
    }
    let output = client
        .start_db_instance()
        .db_instance_identifier(identifier)
        .send()
        .await
        .map_err(|e| instance_error(SdkFailure::from(e), identifier))?;
    transition(output.db_instance(), identifier)
}

fn transition(db: Option<&DbInstance>, identifier: &str) -> Result<Transition, AwsError> {
    db.map(|db| Transition::Requested(Box::new(InstanceInfo::from_sdk(db))))
        .ok_or_else(|| AwsError::InstanceNotFound(identifier.to_owned()))
}

/// What happens to the data when the instance is deleted; there is no default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinalSnapshot {
    Skip,
    Take(String),
}

pub async fn delete(
    client: &Client,
    identifier: &str,
    snapshot: &FinalSnapshot,
) -> Result<InstanceInfo, AwsError> {
    let request = client
        .delete_db_instance()
        .db_instance_identifier(identifier);
    let request = match snapshot {
        FinalSnapshot::Skip => request.skip_final_snapshot(true),
        FinalSnapshot::Take(name) => request
            .skip_final_snapshot(false)
            .final_db_snapshot_identifier(name),
    };
    let output = request
        .send()
        .await
        .map_err(|e| instance_error(SdkFailure::from(e), identifier))?;
    output
        .db_instance()
        .map(InstanceInfo::from_sdk)
        .ok_or_else(|| AwsError::InstanceNotFound(identifier.to_owned()))
}

/// States a wait can aim for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitTarget {
    Available,
    Stopped,
}

impl WaitTarget {
    pub fn state(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::Stopped => "stopped",
        }
    }
}

/// States from which the wanted one will not come by itself.
const DEAD_ENDS: [&str; 6] = [
    "failed",
    "deleting",
    "incompatible-parameters",
    "incompatible-restore",
    "incompatible-network",
    "storage-full",
];

/// Polls until the instance is in `target`'s state; returns at once when it already is.
/// `progress` is called after every poll with the state and the time waited.
pub async fn wait(
    client: &Client,
    identifier: &str,
    target: WaitTarget,
    timeout: Duration,
    interval: Duration,
    mut progress: impl FnMut(&str, Duration),
) -> Result<InstanceInfo, AwsError> {
    let started = Instant::now();
    loop {
        let info = describe(client, identifier).await?;
        progress(&info.status, started.elapsed());
        if info.status == target.state() {
            return Ok(info);
        }
        if DEAD_ENDS.contains(&info.status.as_str()) {
            return Err(AwsError::WaitFailed {
                id: identifier.to_owned(),
                state: info.status,
                wanted: target.state().to_owned(),
            });
        }
        if started.elapsed() + interval > timeout {
            return Err(AwsError::WaitTimeout {
                id: identifier.to_owned(),
                wanted: target.state().to_owned(),
                last: info.status,
                waited_secs: started.elapsed().as_secs(),
            });
        }
        tokio::time::sleep(interval).await;
    }
}

fn instance_error(failure: SdkFailure, identifier: &str) -> AwsError {
    match failure.code.as_deref() {
        Some("DBInstanceNotFound" | "DBInstanceNotFoundFault") => {
            AwsError::InstanceNotFound(identifier.to_owned())
        }
        Some("InvalidDBInstanceState" | "InvalidDBInstanceStateFault") => {
            AwsError::InvalidInstanceState {
                id: identifier.to_owned(),
                message: failure.message,
            }
        }
        _ => failure.into_error(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline_client() -> Client {
        Client::from_conf(
            aws_sdk_rds::Config::builder()
                .behavior_version_latest()
                .region(aws_sdk_rds::config::Region::new("ca-central-1"))
                .build(),
        )
    }

    fn seed_options(credentials: MasterCredentials) -> CreateOptions {
        CreateOptions {
            identifier: "cruddur-db-instance".into(),
            class: "db.t3.micro".into(),
            engine: "postgres".into(),
            engine_version: "14.6".into(),
            allocated_storage_gb: 20,
            storage_type: "gp2".into(),
            db_name: "cruddur".into(),
            port: 5432,
            multi_az: false,
            backup_retention_days: 0,
            storage_encrypted: true,
            performance_insights_days: Some(7),
            deletion_protection: false,
            publicly_accessible: false,
            availability_zone: None,
            credentials,
            subnet_group: Some("cruddur-private".into()),
            security_groups: vec!["sg-0123abcd".into()],
            iam_database_authentication: false,
        }
    }

    // The emulator does not model Performance Insights, so what is sent is checked here.
    #[test]
    fn the_request_carries_performance_insights_and_every_seed_option() {
        let options = seed_options(MasterCredentials::Given {
            username: "root".into(),
            password: SecretString::from("pw-12345678"),
        });
        let client = offline_client();
        let request = create_request(&client, &options);
        let input = request.as_input();
        assert_eq!(input.get_enable_performance_insights(), &Some(true));
        assert_eq!(input.get_performance_insights_retention_period(), &Some(7));
        assert_eq!(input.get_storage_encrypted(), &Some(true));
        assert_eq!(input.get_multi_az(), &Some(false));
        assert_eq!(input.get_backup_retention_period(), &Some(0));
        assert_eq!(input.get_deletion_protection(), &Some(false));
        assert_eq!(input.get_publicly_accessible(), &Some(false));
        assert_eq!(
            input.get_db_subnet_group_name().as_deref(),
            Some("cruddur-private")
        );
        assert_eq!(
            input.get_vpc_security_group_ids().as_deref(),
            Some(&["sg-0123abcd".to_owned()][..])
        );
        assert_eq!(
            input.get_master_user_password().as_deref(),
            Some("pw-12345678")
        );
        assert_eq!(input.get_manage_master_user_password(), &None);
    }

    #[test]
    fn managed_passwords_send_no_password_and_pi_can_be_off() {
        let mut options = seed_options(MasterCredentials::ManagedByRds {
            username: "root".into(),
        });
        options.performance_insights_days = None;
        let client = offline_client();
        let request = create_request(&client, &options);
        let input = request.as_input();
        assert_eq!(input.get_manage_master_user_password(), &Some(true));
        assert_eq!(input.get_master_user_password(), &None);
        assert_eq!(input.get_enable_performance_insights(), &Some(false));
    }
}
