//! `cruddur rds` in a build without the `aws` feature (as `script/server` builds it, to skip the
//! AWS SDK's long compile): the command exists, takes anything, and says how to get it.

/// Whatever was given after `rds`; nothing is done with it.
#[derive(Debug, clap::Args)]
pub struct RdsArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub rest: Vec<String>,
}

pub fn error() -> anyhow::Error {
    anyhow::anyhow!(
        "this cruddur was built without AWS support (script/server builds it that way for a fast \
         first start); build it with `cargo build --release --locked --bin cruddur` (the default \
         features) to use `cruddur rds`"
    )
}
