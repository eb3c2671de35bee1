//! SDK failures as one-line, actionable errors. Messages name resources, never secrets.

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("DB instance {0} already exists (DBInstanceAlreadyExists)")]
    InstanceAlreadyExists(String),
    #[error("DB instance {0} not found (DBInstanceNotFound); check the identifier and the region")]
    InstanceNotFound(String),
    #[error("DB instance {0} is not a read replica, so there is nothing to promote")]
    NotAReplica(String),
    #[error("DB instance {0} keeps no automated backups (retention 0 days), which RDS requires of a read replica's source; turn them on first (backup retention of 1 day or more: `cruddur rds create --backup-retention 1`, or `aws rds modify-db-instance --backup-retention-period 1` on an existing instance)")]
    BackupsOff(String),
    #[error("DB instance {id} cannot do that now (InvalidDBInstanceState): {message}")]
    InvalidInstanceState { id: String, message: String },
    #[error("security group rule {rule} not found in group {group} (InvalidSecurityGroupRuleId.NotFound)")]
    RuleNotFound { group: String, rule: String },
    #[error("security group rule {rule} of group {group} is an outbound (egress) rule; allow-ip rewrites only the inbound rule that admits PostgreSQL (DB_SG_RULE_ID)")]
    EgressRule { group: String, rule: String },
    #[error("security group {0} not found (InvalidGroup.NotFound)")]
    GroupNotFound(String),
    #[error("AWS credentials are missing, invalid or expired: {0} (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or log in with `aws sso login`)")]
    Credentials(String),
    #[error("cannot reach the AWS API: {0}")]
    Unreachable(String),
    #[error("{0} is not set")]
    MissingEnv(&'static str),
    #[error("`{0}` is not a usable IPv4 address")]
    InvalidIp(String),
    #[error("cannot detect the public IP address from {url}: {reason}")]
    IpDetection { url: String, reason: String },
    #[error(
        "timed out after {waited_secs} s waiting for {id} to become {wanted} (last state: {last})"
    )]
    WaitTimeout {
        id: String,
        wanted: String,
        last: String,
        waited_secs: u64,
    },
    #[error("DB instance {id} entered state {state} while waiting for {wanted}")]
    WaitFailed {
        id: String,
        state: String,
        wanted: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("AWS error {code}: {message}")]
    Service { code: String, message: String },
}

/// What an SDK error says, before the caller adds which resource it concerned.
#[derive(Debug)]
pub(crate) struct SdkFailure {
    pub code: Option<String>,
    pub message: String,
    kind: SdkFailureKind,
}

#[derive(Debug, PartialEq, Eq)]
enum SdkFailureKind {
    Service,
    Unreachable,
    Credentials,
    Other,
}

impl<E, R> From<SdkError<E, R>> for SdkFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    fn from(err: SdkError<E, R>) -> Self {
        let full = one_line(&domain::error_chain(&err));
        let kind = match &err {
            SdkError::ServiceError(_) => SdkFailureKind::Service,
            SdkError::TimeoutError(_) | SdkError::ResponseError(_) => SdkFailureKind::Unreachable,
            _ if full.to_ascii_lowercase().contains("credential") => SdkFailureKind::Credentials,
            SdkError::DispatchFailure(_) => SdkFailureKind::Unreachable,
            _ => SdkFailureKind::Other,
        };
        let code = err.code().map(str::to_owned);
        let message = err.message().map_or_else(|| full.clone(), str::to_owned);
        Self {
            code,
            message: if kind == SdkFailureKind::Service {
                message
            } else {
                full
            },
            kind,
        }
    }
}

impl SdkFailure {
    /// `AwsError::Invalid(message(service's message))` when the service answered one of
    /// `codes` (a thing that does not exist), the generic mapping otherwise. Only the
    /// administration commands look things up by name; the Lambda's build has no caller.
    #[cfg(feature = "admin")]
    pub(crate) fn not_found_as(
        self,
        codes: &[&str],
        message: impl FnOnce(&str) -> String,
    ) -> AwsError {
        match self.code.as_deref() {
            Some(code) if codes.contains(&code) => AwsError::Invalid(message(&self.message)),
            _ => self.into_error(),
        }
    }

    /// The generic mapping for codes the caller did not handle itself.
    pub(crate) fn into_error(self) -> AwsError {
        match (self.kind, self.code.as_deref()) {
            (SdkFailureKind::Credentials, _)
            | (
                _,
                Some(
                    "ExpiredToken"
                    | "ExpiredTokenException"
                    | "InvalidClientTokenId"
                    | "UnrecognizedClientException"
                    | "AuthFailure"
                    | "SignatureDoesNotMatch",
                ),
            ) => AwsError::Credentials(self.message),
            (SdkFailureKind::Unreachable, _) => AwsError::Unreachable(self.message),
            (_, Some(code)) => AwsError::Service {
                code: code.to_owned(),
                message: self.message,
            },
            (_, None) => AwsError::Unreachable(self.message),
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
