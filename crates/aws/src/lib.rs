//! RDS and EC2 operations for `cruddur rds …`, the user pool's users for `cruddur cognito
//! sync`, the Cognito triggers' deployment for `cruddur lambda deploy`, and the database's credentials from Secrets Manager or RDS IAM tokens (`DB_AUTH`),
//! through the AWS SDK for Rust.
//!
//! Region and credentials come from the standard AWS chain; `AWS_ENDPOINT_URL` is honoured, so
//! tests aim the SDK at an emulator on loopback. Every call is bounded in time, and SDK errors
//! become [`AwsError`]s with one-line messages.

#[cfg(feature = "admin")]
pub mod audit;
#[cfg(feature = "admin")]
pub mod cognito;
pub mod config;
pub mod db_auth;
pub mod error;
pub mod iam_token;
#[cfg(feature = "admin")]
pub mod ingress;
#[cfg(feature = "admin")]
pub mod lambda_deploy;
#[cfg(feature = "admin")]
pub mod public_ip;
pub mod rds;
pub mod secret_store;
#[cfg(feature = "admin")]
pub mod security_group;
#[cfg(feature = "admin")]
pub mod subnet_group;

pub use aws_config::SdkConfig;
#[cfg(feature = "admin")]
pub use config::ec2_client;
pub use config::{load_checked, load_sdk_config, rds_client};
pub use error::AwsError;
