//! RDS and EC2 operations for `cruddur rds …`, and the user pool's users for `cruddur cognito
//! sync`, through the AWS SDK for Rust.
//!
//! Region and credentials come from the standard AWS chain; `AWS_ENDPOINT_URL` is honoured, so
//! tests aim the SDK at an emulator on loopback. Every call is bounded in time, and SDK errors
//! become [`AwsError`]s with one-line messages.

pub mod cognito;
pub mod config;
pub mod error;
pub mod public_ip;
pub mod rds;
pub mod security_group;

pub use aws_config::SdkConfig;
pub use config::{ec2_client, load_checked, load_sdk_config, rds_client};
pub use error::AwsError;
