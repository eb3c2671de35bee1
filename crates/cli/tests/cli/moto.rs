//! `cruddur` and the SDK aimed at the test process's AWS API emulator (`test_db::moto`).

use aws_sdk_rds::config::Credentials;

pub(crate) use test_db::moto::{endpoint, fresh_region, FAKE_KEY, FAKE_SECRET};

/// `cruddur` aimed at the emulator in `region`, with fake static credentials and the instance
/// metadata service disabled (no traffic may leave loopback).
pub(crate) fn cruddur_aws(region: &str) -> assert_cmd::Command {
    let mut cmd = crate::cruddur();
    cmd.env("AWS_ENDPOINT_URL", endpoint())
        .env("AWS_REGION", region)
        .env("AWS_ACCESS_KEY_ID", FAKE_KEY)
        .env("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        )
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("DB_SG_ID")
        .env_remove("DB_SG_RULE_ID")
        .env_remove("MASTER_USERNAME")
        .env_remove("MASTER_USER_PASSWORD")
        .env_remove("DB_INSTANCE_IDENTIFIER");
    cmd
}

/// SDK configuration for checking the emulator's state from the test.
pub(crate) async fn sdk_config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws::config::https_client())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(FAKE_KEY, FAKE_SECRET, None, None, "tests"))
        .load()
        .await
}
