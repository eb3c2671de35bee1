//! The app's own login role (`cruddur db create-app-user`): the rights the service needs — rows
//! of the tables, no DDL, no superuser — so the server never runs as the owner that migrates.
//! Identifiers are quoted by Postgres (`format('%I')`); a password reaches the server only as a
//! SCRAM-SHA-256 verifier computed here, as psql's `\password` does.

use tokio_postgres::Client;

use crate::error::DbError;

/// The name the app role gets unless told otherwise.
pub const DEFAULT_APP_ROLE: &str = "cruddur_app";

#[derive(Debug, thiserror::Error)]
pub enum RoleError {
    #[error("`{0}` is not a role name this command makes (lowercase letters, digits and _, starting with a letter or _, at most 63)")]
    Name(String),
    #[error("role {0} already exists with more than an app's rights (superuser, CREATEDB, CREATEROLE, REPLICATION, BYPASSRLS, an owner of the tables or the database, or the user running this); choose another --role")]
    TooStrong(String),
    #[error("the schema is not migrated yet (no refinery_schema_history): run `cruddur db migrate` first, as the owner")]
    NotMigrated,
    #[error("--iam needs RDS's rds_iam role, which exists only on RDS for PostgreSQL")]
    NoRdsIam,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<tokio_postgres::Error> for RoleError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e.into())
    }
}

/// How the role logs in.
#[derive(Clone)]
pub enum RoleLogin {
    /// A password, sent as a SCRAM verifier.
    Password(secrecy::SecretString),
    /// RDS IAM tokens (`GRANT rds_iam`).
    Iam,
    /// Neither: the role can log in once someone sets one.
    None,
}

impl std::fmt::Debug for RoleLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Password(_) => "Password(****)",
            Self::Iam => "Iam",
            Self::None => "None",
        })
    }
}

/// What [`ensure_app_role`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleOutcome {
    Created,
    /// The role existed (with no more than an app's rights); its grants and login were renewed.
    Updated,
}

/// A new random password: 40 letters and digits (≈ 238 bits), nothing a URL or a password
/// file would need to escape.
pub fn generate_password() -> secrecy::SecretString {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric
        .sample_string(&mut rand::rngs::OsRng, 40)
        .into()
}

/// Checks a role name: the plain identifiers that need no quoting.
pub fn parse_role_name(raw: &str) -> Result<String, RoleError> {
    let name = raw.trim();
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && name.len() <= 63 && !name.starts_with("pg_") {
        Ok(name.to_owned())
    } else {
        Err(RoleError::Name(raw.to_owned()))
    }
}

/// Makes (or renews) the app role `name` in one transaction: login, grants, default privileges.
pub async fn ensure_app_role(
    client: &mut Client,
    name: &str,
    login: &RoleLogin,
) -> Result<RoleOutcome, RoleError> {
    let name = parse_role_name(name)?;
    let transaction = client.transaction().await?;
    let migrated: bool = transaction
        .query_one(include_str!("../sql/roles/migrated.sql"), &[])
        .await?
        .get(0);
    if !migrated {
        return Err(RoleError::NotMigrated);
    }
    let rights = transaction
        .query_opt(include_str!("../sql/roles/role_rights.sql"), &[&name])
        .await?;
    let outcome = match rights {
        Some(row) if row.get::<_, bool>(0) => return Err(RoleError::TooStrong(name)),
        Some(_) => RoleOutcome::Updated,
        None => {
            let create: String = transaction
                .query_one(include_str!("../sql/roles/create_role.sql"), &[&name])
                .await?
                .get(0);
            transaction.batch_execute(&create).await?;
            RoleOutcome::Created
        }
    };
    match login {
        RoleLogin::Password(password) => {
            use secrecy::ExposeSecret;
            let verifier =
                postgres_protocol::password::scram_sha_256(password.expose_secret().as_bytes());
            let alter: String = transaction
                .query_one(
                    include_str!("../sql/roles/set_password.sql"),
                    &[&name, &verifier],
                )
                .await?
                .get(0);
            transaction.batch_execute(&alter).await?;
        }
        RoleLogin::Iam => {
            let grant: Option<String> = transaction
                .query_one(include_str!("../sql/roles/grant_rds_iam.sql"), &[&name])
                .await?
                .get(0);
            transaction
                .batch_execute(&grant.ok_or(RoleError::NoRdsIam)?)
                .await?;
        }
        RoleLogin::None => {}
    }
    let grants: String = transaction
        .query_one(include_str!("../sql/roles/grant_app_rights.sql"), &[&name])
        .await?
        .get(0);
    transaction.batch_execute(&grants).await?;
    transaction.commit().await?;
    tracing::info!(role = %name, ?outcome, "app role ready");
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_plain_identifiers_and_passwords_are_random_alphanumerics() {
        assert_eq!(parse_role_name(" cruddur_app ").unwrap(), "cruddur_app");
        assert_eq!(parse_role_name("_x1").unwrap(), "_x1");
        let one = generate_password();
        let two = generate_password();
        use secrecy::ExposeSecret;
        assert_eq!(one.expose_secret().len(), 40);
        assert!(one
            .expose_secret()
            .chars()
            .all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(one.expose_secret(), two.expose_secret());
        for bad in [
            "",
            "1app",
            "App",
            "app-user",
            "app user",
            "pg_app",
            "a\"b",
            &"a".repeat(64),
        ] {
            assert!(parse_role_name(bad).is_err(), "{bad}");
        }
    }
}
