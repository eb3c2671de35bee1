//! Loading the SDK configuration with bounded timeouts.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// Connecting to an AWS endpoint (or the emulator) may take this long.
pub const CONNECT_TIMEOUT_SECS: u64 = 3;
/// One attempt of an API call may take this long.
pub const ATTEMPT_TIMEOUT_SECS: u64 = 15;
/// An API call, all retries included, may take this long.
pub const OPERATION_TIMEOUT_SECS: u64 = 30;
const MAX_ATTEMPTS: u32 = 3;

/// The HTTPS client every AWS call goes through: rustls with ring (see the workspace manifest),
/// the platform's root certificates.
pub fn https_client() -> aws_sdk_rds::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The standard chain (environment, profile, instance metadata …) with our timeouts.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(CONNECT_TIMEOUT_SECS))
                .operation_attempt_timeout(Duration::from_secs(ATTEMPT_TIMEOUT_SECS))
                .operation_timeout(Duration::from_secs(OPERATION_TIMEOUT_SECS))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .load()
        .await
}

/// The configuration, refusing early when no region is configured (the SDK's own error for that
/// is obscure).
pub async fn load_checked() -> Result<SdkConfig, crate::AwsError> {
    let config = load_sdk_config().await;
    // Requests carry signed credentials: to AWS over https, to an emulator only on this machine.
    if let Some(endpoint) = config.endpoint_url() {
        domain::fetch_url::parse(endpoint)
            .map_err(|e| crate::AwsError::Invalid(format!("AWS_ENDPOINT_URL: {e}")))?;
    }
    if config.region().is_none() {
        return Err(crate::AwsError::Invalid(
            "no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)".into(),
        ));
    }
    Ok(config)
}

pub fn rds_client(config: &SdkConfig) -> aws_sdk_rds::Client {
    aws_sdk_rds::Client::new(config)
}

#[cfg(feature = "admin")]
pub fn ec2_client(config: &SdkConfig) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(config)
}
