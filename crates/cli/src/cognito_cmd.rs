//! `cruddur cognito sync`: the original `update_cognito_user_ids` script, done right. Only pool
//! users who can sign in (confirmed and enabled) count. Users that still carry a placeholder
//! `cognito_user_id` (the seed's `MOCK-<handle>`) get their real `sub`: first every row is
//! matched by handle (`preferred_username`), then the rest by a *verified* email, and only where
//! exactly one pool user matches. Pool users with no row (a post-confirmation trigger that
//! failed) are listed, and recorded with `--create-missing`. A row that cannot be changed is
//! reported and skipped. Running it again changes nothing. Output names handles and subs, never
//! emails or names.

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

/// Links each placeholder row to its one matching pool user among `unrecorded` (by handle for
/// every row first, then by verified email), removing the users it links from the list.
/// Returns how many were linked.
async fn link_placeholders(pool: &Pool, unrecorded: &mut Vec<&PoolUser>) -> anyhow::Result<usize> {
    let mut rows = db::users::list_placeholder_users(pool).await?;
    let mut linked = 0;
    for by in [By::Handle, By::VerifiedEmail] {
        let mut unmatched = Vec::new();
        for row in rows {
            match match_placeholder(&row, unrecorded, by) {
                Match::One(index) => {
                    let user = unrecorded.remove(index);
                    if link(pool, &row, user).await {
                        linked += 1;
                    }
                }
                Match::None => unmatched.push(row),
                Match::Ambiguous => output::line(format!(
                    "placeholder @{}: several pool users match; left as it is",
                    shown_handle(Some(&row.handle))
                )),
            }
        }
        rows = unmatched;
    }
    for row in rows {
        output::line(format!(
            "placeholder @{}: no confirmed pool user has this handle or verified email; left as it is",
            shown_handle(Some(&row.handle))
        ));
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

/// What a placeholder row is matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    Handle,
    VerifiedEmail,
}

#[derive(Debug, PartialEq, Eq)]
enum Match {
    /// The index of the one matching user.
    One(usize),
    None,
    Ambiguous,
}

/// The pool user a placeholder row belongs to, matched `by` handle or verified email,
/// case-insensitively, and only when exactly one matches.
fn match_placeholder(row: &PlaceholderUser, users: &[&PoolUser], by: By) -> Match {
    let equal =
        |a: &Option<String>, b: &str| a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(b));
    let same = |u: &PoolUser| match by {
        By::Handle => equal(&u.preferred_username, &row.handle),
        By::VerifiedEmail => u.email_verified && equal(&u.email, &row.email),
    };
    let found: Vec<usize> = (0..users.len()).filter(|&i| same(users[i])).collect();
    match found.as_slice() {
        [] => Match::None,
        [one] => Match::One(*one),
        _ => Match::Ambiguous,
    }
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
    let new = NewCognitoUser {
        display_name: name,
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
    fn a_placeholder_matches_by_handle_or_verified_email_and_never_ambiguously() {
        let a = pool_user("s-a", Some("AndrewBrown"), Some("other@x"));
        let b = pool_user("s-b", Some("someone"), Some("andrew@x"));
        let c = pool_user("s-c", None, Some("dup@x"));
        let d = pool_user("s-d", None, Some("DUP@x"));
        let mut unverified = pool_user("s-e", None, Some("unverified@x"));
        unverified.email_verified = false;
        let users = [&a, &b, &c, &d, &unverified];
        let andrew = row("andrewbrown", "andrew@x");
        assert_eq!(
            match_placeholder(&andrew, &users, By::Handle),
            Match::One(0)
        );
        assert_eq!(
            match_placeholder(&andrew, &users, By::VerifiedEmail),
            Match::One(1)
        );
        let nobody = |email| row("nobody", email);
        assert_eq!(
            match_placeholder(&nobody("x@x"), &users, By::Handle),
            Match::None
        );
        assert_eq!(
            match_placeholder(&nobody("dup@x"), &users, By::VerifiedEmail),
            Match::Ambiguous
        );
        assert_eq!(
            match_placeholder(&nobody("none@x"), &users, By::VerifiedEmail),
            Match::None
        );
        assert_eq!(
            match_placeholder(&nobody("unverified@x"), &users, By::VerifiedEmail),
            Match::None,
            "an unverified email identifies no one"
        );
    }
}
