//! The `cruddur` binary, run for real against databases of the test harness's cluster.
#![allow(clippy::unwrap_used)] // helpers of a test binary: a panic is the failure report

mod cognito;
mod cognito_sync;
mod db_auth;
mod db_commands;
mod errors;
mod feed;
mod hostile;
mod lambda_deploy;
mod layering;
mod local;
mod moto;
mod production_safety;
mod rds;
mod rds_network;
mod reliability;
mod serve;

use std::time::Duration;

use assert_cmd::Command;

/// Far above any legitimate run; only reached if a command hangs.
pub const COMMAND_GUARD: Duration = Duration::from_secs(60);

/// `cruddur` with a clean environment for connection settings.
pub fn cruddur() -> Command {
    let mut cmd = Command::cargo_bin("cruddur").unwrap();
    cmd.env_remove("CONNECTION_URL")
        .env_remove("PROD_CONNECTION_URL")
        .env_remove("RUST_LOG")
        .timeout(COMMAND_GUARD);
    cmd
}

/// The URL of `dbname` on the harness cluster (the database need not exist).
pub fn url_of(dbname: &str) -> String {
    test_db::cluster().url(dbname).unwrap().expose().to_owned()
}

pub fn password() -> String {
    url::Url::parse(&url_of("postgres"))
        .unwrap()
        .password()
        .unwrap()
        .to_owned()
}

pub async fn database_exists(name: &str) -> bool {
    let settings = db::DatabaseUrl::new(url_of("postgres")).parse().unwrap();
    let client = db::pool::connect(&settings).await.unwrap();
    db::admin::database_exists(&client, name).await.unwrap()
}
