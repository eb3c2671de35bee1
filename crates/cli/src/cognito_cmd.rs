//! `cruddur cognito sync`: the original `update_cognito_user_ids` script, done right. Only pool
//! users who can sign in (confirmed and enabled) count. Users that still carry a placeholder
//! `cognito_user_id` (the seed's `MOCK-<handle>`) get their real `sub` only from the one pool
//! user whose *verified* email equals the row's email. A handle (`preferred_username`) is never
//! enough: its owner chooses it and can change it, so a stranger could rename themselves after a
//! placeholder and be handed its account; a handle match without the email is reported, not
//! linked. Pool users with no row (a post-confirmation trigger that failed) are listed, and
//! recorded with `--create-missing`. A row that cannot be changed is reported and skipped.
//! Running it again changes nothing. Output names handles and subs, never emails or names.

use anyhow::Context;
use aws::cognito::PoolUser;
use db::users::{CognitoInsert, NewCognitoUser, PlaceholderUser};
use db::{Pool, PoolSettings};

use crate::output::{self, shown_handle};
use crate::target::Target;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum CognitoCommand {
    /// Give placeholder users their Cognito sub, list pool users without a row
    /// (--create-missing records them).
    Sync(SyncArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct SyncArgs {
    /// The user pool whose users are read.
    #[arg(long, env = "AWS_COGNITO_USER_POOL_ID")]
    pub user_pool_id: String,
    /// Also insert a row for each pool user that has none.
    #[arg(long)]
    pub create_missing: bool,
    /// Confirm changing users on production (--prod).
    #[arg(long)]
    pub yes: bool,
}

pub(crate) async fn run(command: CognitoCommand, target: Target) -> anyhow::Result<()> {
    let CognitoCommand::Sync(args) = command;
    output::heading("cognito-sync");
    target.confirm_destructive("change users' Cognito ids", args.yes)?;
    let config = aws::load_checked().await?;
    let pool_users =
        aws::cognito::list_users(&aws::cognito::cognito_client(&config), &args.user_pool_id)
            .await?;
    output::line(format!(
        "user pool {}: {} user(s)",
        args.user_pool_id,
        pool_users.len()
    ));
    let pool = db::pool::build_pool(
        &target.settings,
        &PoolSettings {
            max_size: 1,
            ..PoolSettings::default()
        },
    )?;
    let mut unrecorded = Vec::new();
    for user in pool_users.iter().filter(|u| u.confirmed) {
        if db::users::find_user_by_cognito_id(&pool, &user.sub)
            .await?
            .is_none()
        {
            unrecorded.push(user);
        }
    }
    let linked = link_placeholders(&pool, &mut unrecorded).await?;
    let mut created = 0;
    for orphan in &unrecorded {
        let shown = shown_handle(orphan.preferred_username.as_deref());
        if args.create_missing {
            if record(&pool, orphan).await? {
                created += 1;
            }
        } else {
            output::line(format!(
                "orphan: sub {} (@{shown}) has no row (--create-missing records it)",
                orphan.sub
            ));
        }
    }
    output::line(format!(
        "{linked} linked, {} orphan(s), {created} created",
        unrecorded.len()
    ));
    pool.close();
    Ok(())
}

/// Links each placeholder row to the one pool user among `unrecorded` whose verified email is
/// the row's, removing the users it links from the list. Returns how many were linked.
async fn link_placeholders(pool: &Pool, unrecorded: &mut Vec<&PoolUser>) -> anyhow::Result<usize> {
    let rows = db::users::list_placeholder_users(pool).await?;
    let mut linked = 0;
    for row in rows {
        let handle = shown_handle(Some(&row.handle));
        match match_placeholder(&row, unrecorded) {
            Match::One(index) => {
                let user = unrecorded.remove(index);
                if link(pool, &row, user).await {
                    linked += 1;
                }
            }
            Match::Ambiguous => output::line(format!(
                "placeholder @{handle}: several pool users have its verified email; left as it is"
            )),
            Match::None if claims_handle(&row, unrecorded) => output::line(format!(
                "placeholder @{handle}: a pool user chose this handle but has not verified the \
                 row's email; not linked"
            )),
            Match::None => output::line(format!(
                "placeholder @{handle}: no confirmed pool user has its verified email; left as it is"
            )),
        }
    }
    Ok(linked)
}

/// Gives `row` the sub of `user`; a failure is reported and skipped.
async fn link(pool: &Pool, row: &PlaceholderUser, user: &PoolUser) -> bool {
    let handle = shown_handle(Some(&row.handle));
    match db::users::link_cognito_user(pool, row.uuid, &user.sub).await {
        Ok(true) => {
            output::line(format!("linked @{handle} to sub {}", user.sub));
            true
        }
        Ok(false) => false,
        Err(e) => {
            output::line(format!(
                "placeholder @{handle}: cannot be linked ({e}); skipped"
            ));
            false
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Match {
    /// The index of the one matching user.
    One(usize),
    None,
    Ambiguous,
}

/// Whether `a` is present and equal to `b`, ignoring ASCII case.
fn same_text(a: Option<&str>, b: &str) -> bool {
    a.is_some_and(|a| a.eq_ignore_ascii_case(b))
}

/// The pool user a placeholder row belongs to: the one whose verified email is the row's
/// (case-insensitively), and only when exactly one has it.
fn match_placeholder(row: &PlaceholderUser, users: &[&PoolUser]) -> Match {
    let found: Vec<usize> = (0..users.len())
        .filter(|&i| users[i].email_verified && same_text(users[i].email.as_deref(), &row.email))
        .collect();
    match found.as_slice() {
        [] => Match::None,
        [one] => Match::One(*one),
        _ => Match::Ambiguous,
    }
}

/// Whether some pool user's `preferred_username` is the row's handle: worth reporting when the
/// email did not match, since it is either the owner with an unverified email or a squatter.
fn claims_handle(row: &PlaceholderUser, users: &[&PoolUser]) -> bool {
    users
        .iter()
        .any(|u| same_text(u.preferred_username.as_deref(), &row.handle))
}

/// Inserts a row for a pool user without one; `false` (with the reason printed) when it cannot.
async fn record(pool: &Pool, user: &PoolUser) -> anyhow::Result<bool> {
    let (Some(handle), Some(email), Some(name)) = (
        user.preferred_username.as_deref(),
        user.email.as_deref(),
        user.name.as_deref(),
    ) else {
        output::line(format!(
            "orphan: sub {} lacks preferred_username, email or name; not recorded",
            user.sub
        ));
        return Ok(false);
    };
    let Ok(handle) = domain::Handle::parse(handle) else {
        output::line(format!(
            "orphan: sub {} has an unusable handle; not recorded",
            user.sub
        ));
        return Ok(false);
    };
    // The same rule as every writer; the handle stands in for a name that breaks it.
    let (name, broken) = domain::DisplayName::parse_or_handle(name, &handle);
    if let Some(rule) = broken {
        output::line(format!(
            "sub {}: the name breaks the display-name rule ({rule}); @{handle} stands in",
            user.sub
        ));
    }
    let new = NewCognitoUser {
        display_name: name.as_str(),
        email,
        handle: handle.as_str(),
        cognito_user_id: &user.sub,
    };
    match db::users::insert_from_cognito(pool, &new).await {
        Ok(CognitoInsert::Inserted(_)) => {
            output::line(format!("created @{} for sub {}", handle, user.sub));
            Ok(true)
        }
        Ok(CognitoInsert::AlreadyPresent) => Ok(false),
        Ok(CognitoInsert::HandleTaken) => {
            output::line(format!(
                "orphan: sub {}: the handle @{handle} belongs to another user; not recorded",
                user.sub
            ));
            Ok(false)
        }
        Err(e) => Err(e).context("cannot record a pool user"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool_user(sub: &str, handle: Option<&str>, email: Option<&str>) -> PoolUser {
        PoolUser {
            sub: sub.into(),
            email: email.map(Into::into),
            name: Some("N".into()),
            preferred_username: handle.map(Into::into),
            confirmed: true,
            email_verified: true,
        }
    }

    fn row(handle: &str, email: &str) -> PlaceholderUser {
        PlaceholderUser {
            uuid: uuid::Uuid::nil(),
            handle: handle.into(),
            email: email.into(),
        }
    }

    #[test]
    fn a_placeholder_matches_only_a_verified_email_and_never_ambiguously() {
        let squatter = pool_user("s-a", Some("AndrewBrown"), Some("other@x"));
        let owner = pool_user("s-b", Some("someone"), Some("Andrew@X"));
        let c = pool_user("s-c", None, Some("dup@x"));
        let d = pool_user("s-d", None, Some("DUP@x"));
        let mut unverified = pool_user("s-e", None, Some("unverified@x"));
        unverified.email_verified = false;
        let users = [&squatter, &owner, &c, &d, &unverified];
        let andrew = row("andrewbrown", "andrew@x");
        assert_eq!(match_placeholder(&andrew, &users), Match::One(1));
        assert_eq!(
            match_placeholder(&andrew, &[&squatter]),
            Match::None,
            "a handle alone links nothing"
        );
        assert!(claims_handle(&andrew, &[&squatter]));
        assert!(!claims_handle(&andrew, &[&owner]));
        let nobody = |email| row("nobody", email);
        assert_eq!(
            match_placeholder(&nobody("dup@x"), &users),
            Match::Ambiguous
        );
        assert_eq!(match_placeholder(&nobody("none@x"), &users), Match::None);
        assert_eq!(
            match_placeholder(&nobody("unverified@x"), &users),
            Match::None,
            "an unverified email identifies no one"
        );
    }
}
