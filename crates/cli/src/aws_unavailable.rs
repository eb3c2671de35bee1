//! `cruddur rds` and `cruddur cognito` in a build without the `aws` feature (as `script/server`
//! builds it, to skip the AWS SDK's long compile): the commands exist, take anything, and say
//! how to get them.

/// Whatever was given after the command; nothing is done with it.
#[derive(Debug, clap::Args)]
pub(crate) struct AwsArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

pub(crate) fn error(command: &str) -> anyhow::Error {
    unavailable(&format!("`cruddur {command}`"))
}

/// The same for a feature of a command that exists in this build (`DB_AUTH=secret`).
pub(crate) fn unavailable(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "this cruddur was built without AWS support (script/server builds it that way for a fast \
         first start); build it with `cargo build --release --locked --bin cruddur` (the default \
         features) to use {what}"
    )
}
