//! Flags every `cruddur rds` command shares.

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct InstanceArgs {
    /// DB instance identifier.
    #[arg(
        long,
        env = "DB_INSTANCE_IDENTIFIER",
        default_value = "cruddur-db-instance"
    )]
    pub identifier: String,
}
