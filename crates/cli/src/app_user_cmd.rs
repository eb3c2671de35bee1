//! `cruddur db create-app-user`: the service's own login role, with only the rights it needs,
//! and (with `--secret`) its password in Secrets Manager for `DB_AUTH=secret`. Run it as the
//! owner, the user that migrates.

use anyhow::Context;
use db::roles::{self, RoleLogin, RoleOutcome};

use crate::output;
use crate::target::Target;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CreateAppUserArgs {
    /// The role to make (or renew: grants, and a new password with --secret).
    #[arg(long, default_value = roles::DEFAULT_APP_ROLE)]
    pub role: String,
    /// Generate the role's password and store it in this Secrets Manager secret (created, or
    /// given a new current version) with the host, port and database: DB_SECRET_ARN for
    /// DB_AUTH=secret. The password is never printed.
    #[arg(long, value_name = "NAME_OR_ARN", conflicts_with = "iam")]
    pub secret: Option<String>,
    /// Let the role log in with RDS IAM tokens (DB_AUTH=iam) instead of a password.
    #[arg(long)]
    pub iam: bool,
}

pub(crate) async fn run(target: &Target, args: CreateAppUserArgs) -> anyhow::Result<()> {
    output::heading("db-create-app-user");
    let role = roles::parse_role_name(&args.role)?;
    let login = match (&args.secret, args.iam) {
        (Some(secret), _) => {
            let password = roles::generate_password();
            // The secret first: if setting the password then fails, servers reading the secret
            // are refused the new one and fall back to its previous version, and running this
            // again completes the change.
            let arn = store_secret(target, &role, secret, &password).await?;
            output::line(format!("secret {arn} holds {role}'s credentials"));
            (RoleLogin::Password(password), Some(arn))
        }
        (None, true) => (RoleLogin::Iam, None),
        (None, false) => (RoleLogin::None, None),
    };
    let mut client = db::pool::connect(&target.settings)
        .await
        .with_context(|| format!("cannot connect to {}", target.url.masked()))?;
    let outcome = roles::ensure_app_role(&mut client, &role, &login.0)
        .await
        .with_context(|| format!("cannot make role {role}"))?;
    let verb = match outcome {
        RoleOutcome::Created => "created",
        RoleOutcome::Updated => "renewed",
    };
    output::line(format!(
        "{verb} role {role}: SELECT, INSERT, UPDATE, DELETE on the tables (and on the ones later migrations make), no DDL, no superuser"
    ));
    match (login.0, login.1) {
        (RoleLogin::Password(_), Some(arn)) => output::line(format!(
            "serve with: DB_AUTH=secret DB_SECRET_ARN='{arn}' (keep migrating as the owner)"
        )),
        (RoleLogin::Iam, _) => output::line(format!(
            "serve with: DB_AUTH=iam and a URL naming user {role} with sslmode=verify-full; the caller's IAM policy needs rds-db:connect on dbuser:<resource id>/{role}"
        )),
        _ => output::line(format!(
            "{role} has no password: give it one with --secret NAME (stored in Secrets Manager) or log in with --iam"
        )),
    }
    Ok(())
}

#[cfg(feature = "aws")]
async fn store_secret(
    target: &Target,
    role: &str,
    secret: &str,
    password: &secrecy::SecretString,
) -> anyhow::Result<String> {
    use secrecy::ExposeSecret;
    let (host, port) = target.settings.login_host();
    let value = serde_json::json!({
        "engine": "postgres",
        "host": host,
        "port": port,
        "username": role,
        "password": password.expose_secret(),
        "dbname": target.dbname(),
    });
    let config = aws::load_checked().await?;
    let written = aws::secret_store::put_app_secret(
        &aws::secret_store::secrets_client(&config),
        secret,
        &secrecy::SecretString::from(value.to_string()),
        &format!("cruddur: login of the app role {role}"),
    )
    .await?;
    Ok(match written {
        aws::secret_store::SecretWrite::Created { arn }
        | aws::secret_store::SecretWrite::Updated { arn } => arn,
    })
}

#[cfg(not(feature = "aws"))]
async fn store_secret(
    _target: &Target,
    _role: &str,
    _secret: &str,
    _password: &secrecy::SecretString,
) -> anyhow::Result<String> {
    Err(crate::aws_unavailable::unavailable("--secret"))
}
