//! The database secret in Secrets Manager: `GetSecretValue` by version stage behind
//! [`db::credentials::secret::SecretStore`], and writing an app user's secret.

use aws_sdk_secretsmanager::Client;
use db::credentials::secret::{SecretStore, Stage};
use db::credentials::{CredentialError, ProviderFuture};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{AwsError, SdkFailure};

/// One secret, read by stage.
#[derive(Debug, Clone)]
pub struct SecretsManagerStore {
    client: Client,
    arn: String,
}

impl SecretsManagerStore {
    pub fn new(client: Client, arn: impl Into<String>) -> Self {
        Self {
            client,
            arn: arn.into(),
        }
    }

    async fn read(&self, stage: Stage) -> Result<Option<SecretString>, CredentialError> {
        let output = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .version_stage(stage.label())
            .send()
            .await;
        let output = match output {
            Ok(output) => output,
            Err(e) => {
                let failure = SdkFailure::from(e);
                return match (failure.code.as_deref(), stage) {
                    // No version carries the stage: normal outside a rotation.
                    (Some("ResourceNotFoundException"), Stage::Pending | Stage::Previous) => {
                        Ok(None)
                    }
                    _ => Err(self.error(failure)),
                };
            }
        };
        match (output.secret_string(), output.secret_binary()) {
            (Some(text), _) => Ok(Some(SecretString::from(text.to_owned()))),
            (None, Some(_)) => Err(CredentialError::SecretMalformed {
                arn: self.arn.clone(),
                reason: "it holds binary data, not a JSON string".into(),
            }),
            (None, None) => Err(CredentialError::SecretMalformed {
                arn: self.arn.clone(),
                reason: "it has no value".into(),
            }),
        }
    }

    fn error(&self, failure: SdkFailure) -> CredentialError {
        let arn = self.arn.clone();
        match failure.code.as_deref() {
            Some("ResourceNotFoundException") => CredentialError::SecretUnreadable {
                arn,
                reason: "not found (ResourceNotFoundException); check the ARN and the region".into(),
            },
            Some("AccessDeniedException") => CredentialError::SecretUnreadable {
                arn,
                reason: "access denied: the caller needs secretsmanager:GetSecretValue on it (and kms:Decrypt on its key if it is not AWS-managed)".into(),
            },
            Some("DecryptionFailure") => CredentialError::SecretUnreadable {
                arn,
                reason: "its KMS key cannot decrypt it for this caller (DecryptionFailure)".into(),
            },
            Some("InvalidRequestException") => CredentialError::SecretUnreadable {
                arn,
                reason: format!("{} (InvalidRequestException; a secret scheduled for deletion cannot be read)", failure.message),
            },
            _ => match failure.into_error() {
                AwsError::Service { code, message } => CredentialError::SecretUnreadable {
                    arn,
                    reason: format!("{message} ({code})"),
                },
                other => CredentialError::SecretUnreachable {
                    arn,
                    reason: other.to_string(),
                },
            },
        }
    }
}

impl SecretStore for SecretsManagerStore {
    fn fetch(
        &self,
        stage: Stage,
    ) -> ProviderFuture<'_, Result<Option<SecretString>, CredentialError>> {
        Box::pin(self.read(stage))
    }

    fn arn(&self) -> &str {
        &self.arn
    }
}

/// What [`put_app_secret`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretWrite {
    Created { arn: String },
    Updated { arn: String },
}

/// Stores an app user's credentials in the shape RDS rotation functions use, creating the secret
/// `name` or adding a new `AWSCURRENT` version to it.
pub async fn put_app_secret(
    client: &Client,
    name: &str,
    value: &SecretString,
    description: &str,
) -> Result<SecretWrite, AwsError> {
    let created = client
        .create_secret()
        .name(name)
        .description(description)
        .secret_string(value.expose_secret())
        .send()
        .await;
    match created {
        Ok(output) => Ok(SecretWrite::Created {
            arn: output.arn().unwrap_or(name).to_owned(),
        }),
        Err(e) => {
            let failure = SdkFailure::from(e);
            if failure.code.as_deref() != Some("ResourceExistsException") {
                return Err(secret_write_error(failure, name));
            }
            let output = client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value.expose_secret())
                .send()
                .await
                .map_err(|e| secret_write_error(SdkFailure::from(e), name))?;
            Ok(SecretWrite::Updated {
                arn: output.arn().unwrap_or(name).to_owned(),
            })
        }
    }
}

fn secret_write_error(failure: SdkFailure, name: &str) -> AwsError {
    match failure.code.as_deref() {
        Some("AccessDeniedException") => AwsError::Invalid(format!(
            "cannot write secret {name}: access denied (the caller needs secretsmanager:CreateSecret and PutSecretValue)"
        )),
        _ => failure.into_error(),
    }
}

pub fn secrets_client(config: &crate::SdkConfig) -> Client {
    Client::new(config)
}
