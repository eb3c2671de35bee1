//! The pages' markup (maud: checked by the compiler, and every `(value)` is escaped; raw HTML
//! needs `PreEscaped`, used once, for the sentence table, which escapes itself).

use chrono::{DateTime, Utc};
use db::activity::{ActivityRow, CrudRow};
use db::users::{ProfileRow, UserShortRow};
use domain::{Ttl, MAX_CRUD_CHARS, MAX_REPLY_CHARS};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use uuid::Uuid;

use super::assets::{SCRIPT, STYLESHEET};
use super::{clock, sentences};
use crate::json::encode_timestamp;

/// Who is looking, as far as the page cares.
#[derive(Debug)]
pub struct Viewer {
    pub posting: Posting,
    /// When the page was made (ages and time left are counted from it).
    pub now: DateTime<Utc>,
}

/// What the page offers for writing.
#[derive(Debug)]
pub enum Posting {
    /// Dev mode: posting, as any of these users.
    AsAnyOf(Vec<UserShortRow>),
    /// Cognito mode without sign-in on the page: read-only, with a word on where to sign in.
    SignInElsewhere,
    /// Cognito mode, signed in on the page: posting as this user.
    SignedIn(UserShortRow),
    /// Cognito mode, signed out: a link to sign in that comes back to `return_to`; `ended`
    /// when the browser's session cookie named a session that has ended.
    SignIn { return_to: String, ended: bool },
    /// Nothing said about it (error pages).
    Unmentioned,
}

impl Viewer {
    fn can_post(&self) -> bool {
        matches!(self.posting, Posting::AsAnyOf(_) | Posting::SignedIn(_))
    }
}

fn layout(title: &str, viewer: &Viewer, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Cruddur" }
                link rel="stylesheet" href=(STYLESHEET.path());
                script src=(SCRIPT.path()) defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to the cruds" }
                header class="site" {
                    nav aria-label="Site" {
                        a class="brand" href="/" { "Cruddur" }
                        span class="tagline" { "Posts that expire." }
                    }
                    @match &viewer.posting {
                        Posting::AsAnyOf(authors) => (author_picker(authors)),
                        Posting::SignInElsewhere => p class="read-only" {
                            "This page is read-only: the server checks sign-ins with Cognito. "
                            "Sign in and post through the Cruddur app."
                        },
                        Posting::SignedIn(user) => (signed_in(user)),
                        Posting::SignIn { return_to, ended } => (sign_in_link(return_to, *ended)),
                        Posting::Unmentioned => {},
                    }
                }
                main id="main" tabindex="-1" { (content) }
                p id="announce" class="sr-only" role="status" {}
                footer class="site" {
                    p { "Every crud expires; the bomb shows how long it has left." }
                }
                script id="sentences" type="application/json" {
                    (PreEscaped(sentences::as_json()))
                }
            }
        }
    }
}

fn signed_in(user: &UserShortRow) -> Markup {
    html! {
        div class="account" {
            p class="note" {
                "Signed in as " strong { (user.display_name) } " (@" (user.handle) ")"
            }
            // A form, not a link: a GET sign-out could be set off by any other site.
            form method="post" action="/auth/sign-out" {
                button type="submit" { "Sign out" }
            }
        }
    }
}

fn sign_in_link(return_to: &str, ended: bool) -> Markup {
    let href = format!(
        "/auth/sign-in?return_to={}",
        url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
    );
    html! {
        p class="account note" {
            @if ended { "Your session has ended. " }
            a href=(href) { "Sign in" } " to post and reply."
        }
    }
}

/// A sign-in that did not complete: why, and a way to try again.
pub fn sign_in_failed(heading: &str, sentence: &str) -> Markup {
    let viewer = Viewer {
        posting: Posting::Unmentioned,
        now: Utc::now(),
    };
    layout(
        heading,
        &viewer,
        html! {
            h1 { (heading) }
            p role="alert" { (sentence) }
            p { a href="/auth/sign-in" { "Sign in again" } }
            p { a href="/" { "Back to the home feed" } }
        },
    )
}

fn author_picker(authors: &[UserShortRow]) -> Markup {
    html! {
        div class="author" {
            label for="author" { "Post as" }
            select id="author" name="user_handle" aria-describedby="author-note" {
                option value="" { "Choose a user" }
                @for user in authors {
                    option value=(user.handle) { (user.display_name) " (@" (user.handle) ")" }
                }
            }
            span id="author-note" class="note" { "Dev mode: anyone may post as anyone." }
        }
    }
}

/// `/`: the compose form (dev mode) and the home feed.
pub fn home(viewer: &Viewer, items: &[CrudRow], older: Option<Uuid>) -> Markup {
    layout(
        "Home",
        viewer,
        html! {
            h1 { "Home" }
            @if viewer.can_post() { (compose()) }
            section aria-labelledby="feed-title" {
                h2 id="feed-title" { "Latest cruds" }
                div id="cruds" {
                    (crud_list(viewer, items))
                    @if let Some(before) = older {
                        nav aria-label="Pages" class="pages" {
                            a href=(format!("/?before={before}")) rel="next" { "Older cruds" }
                        }
                    }
                }
            }
        },
    )
}

/// `/@{handle}`: a user's profile and newest cruds.
pub fn user(viewer: &Viewer, profile: &ProfileRow, items: &[CrudRow], cap: i64) -> Markup {
    let count = if profile.cruds_count >= cap {
        format!("{cap}+ cruds")
    } else if profile.cruds_count == 1 {
        "1 crud".to_owned()
    } else {
        format!("{} cruds", profile.cruds_count)
    };
    layout(
        &format!("{} (@{})", profile.display_name, profile.handle),
        viewer,
        html! {
            h1 { (profile.display_name) " " span class="handle" { "@" (profile.handle) } }
            @if let Some(bio) = &profile.bio { p class="bio" { (bio) } }
            p class="stats" { (count) }
            section aria-labelledby="user-cruds" {
                h2 id="user-cruds" { "Newest cruds" }
                div id="cruds" { (crud_list(viewer, items)) }
            }
        },
    )
}

/// `/@{handle}/status/{uuid}`: one crud and a page of its replies, oldest first.
pub fn status(
    viewer: &Viewer,
    activity: &ActivityRow,
    replies: &[ActivityRow],
    more_after: Option<Uuid>,
) -> Markup {
    layout(
        &format!("Crud by @{}", activity.handle),
        viewer,
        html! {
            h1 { "Crud by " (activity.display_name) }
            div id="cruds" {
                article class="crud" aria-label=(format!("Crud by {}", activity.display_name)) {
                    (crud_body(viewer, activity))
                    section aria-label="Replies" {
                        @if replies.is_empty() {
                            p class="empty" { "No replies yet." }
                        } @else {
                            ol class="replies" {
                                @for reply in replies { li { (reply_body(viewer, reply)) } }
                            }
                        }
                        @if let Some(after) = more_after {
                            nav aria-label="Pages" class="pages" {
                                a rel="next" href=(format!("/@{}/status/{}?after={after}", activity.handle, activity.uuid)) {
                                    "More replies"
                                }
                            }
                        }
                    }
                    @if viewer.can_post() { (reply_form(activity)) }
                }
            }
        },
    )
}

/// A page for an error: its status line and a sentence.
pub fn error(viewer: &Viewer, heading: &str, sentence: &str) -> Markup {
    layout(
        heading,
        viewer,
        html! {
            h1 { (heading) }
            p { (sentence) }
            p { a href="/" { "Back to the home feed" } }
        },
    )
}

fn compose() -> Markup {
    html! {
        form id="compose" class="post" data-kind="crud" data-max=(MAX_CRUD_CHARS) novalidate {
            h2 { "New crud" }
            (message_field("compose", "What is happening?", MAX_CRUD_CHARS, 3))
            div class="field" {
                label for="compose-ttl" { "Lives for" }
                select id="compose-ttl" name="ttl" aria-describedby="compose-ttl-error" {
                    @for ttl in Ttl::ALL {
                        option value=(ttl.as_str()) selected[ttl == Ttl::DEFAULT] { (ttl_label(ttl)) }
                    }
                }
                p id="compose-ttl-error" class="error" data-error="ttl" hidden {}
            }
            (form_end("compose", html! { "Crud it" }))
        }
    }
}

fn reply_form(activity: &ActivityRow) -> Markup {
    let id = format!("reply-{}", activity.uuid);
    html! {
        details class="reply-box" {
            summary { "Reply" span class="sr-only" { " to " (activity.display_name) } }
            form id=(id) class="post" data-kind="reply" data-reply-to=(activity.uuid)
                data-max=(MAX_REPLY_CHARS) novalidate {
                (message_field(&id, &format!("Reply to {}", activity.display_name), MAX_REPLY_CHARS, 2))
                (form_end(&id, html! { "Reply" span class="sr-only" { " to " (activity.display_name) } }))
            }
        }
    }
}

fn message_field(id: &str, label: &str, max: usize, rows: u8) -> Markup {
    html! {
        div class="field" {
            label for=(format!("{id}-message")) { (label) }
            textarea id=(format!("{id}-message")) name="message" rows=(rows)
                aria-describedby=(format!("{id}-count {id}-message-error")) {}
            p id=(format!("{id}-count")) class="count" data-count { "0 / " (max) }
            p id=(format!("{id}-message-error")) class="error" data-error="message" hidden {}
        }
    }
}

fn form_end(id: &str, action: Markup) -> Markup {
    html! {
        // The author is picked at the top of the page; its errors show here, by the form posted,
        // and the script points the picker's description at this line while it shows one.
        p id=(format!("{id}-author-error")) class="error" data-error="author" hidden {}
        p class="error" data-error="form" role="alert" hidden {}
        div class="actions" {
            // Enabled by the script: without it, posting cannot work (the API takes JSON only).
            button type="submit" disabled { (action) }
        }
        noscript { p class="note" { "Posting needs JavaScript; reading does not." } }
    }
}

/// A TTL in words: its wire name read aloud (`7-days` → `7 days`).
fn ttl_label(ttl: Ttl) -> String {
    ttl.as_str().replace('-', " ")
}

fn crud_list(viewer: &Viewer, items: &[CrudRow]) -> Markup {
    html! {
        @if items.is_empty() {
            p class="empty" { "No cruds here yet." }
        } @else {
            ol class="feed" {
                @for item in items {
                    li {
                        article class="crud" aria-label=(format!("Crud by {}", item.activity.display_name)) {
                            (crud_body(viewer, &item.activity))
                            @if !item.replies.is_empty() {
                                ol class="replies" aria-label="Newest replies" {
                                    @for reply in &item.replies { li { (reply_body(viewer, reply)) } }
                                }
                            }
                            @if viewer.can_post() { (reply_form(&item.activity)) }
                        }
                    }
                }
            }
        }
    }
}

fn crud_body(viewer: &Viewer, activity: &ActivityRow) -> Markup {
    html! {
        (byline(viewer, activity))
        p class="message" { (activity.message) }
        p class="meta" {
            @if let Some(expires) = activity.expires_at {
                span class="expires" {
                    span aria-hidden="true" { "💣 " }
                    time datetime=(encode_timestamp(&expires)) data-left {
                        (clock::left(expires, viewer.now))
                    }
                    " left"
                }
            }
            span class="counts" {
                (counted(activity.replies_count, "reply", "replies")) " · "
                (counted(activity.reposts_count, "repost", "reposts")) " · "
                (counted(activity.likes_count, "like", "likes"))
            }
        }
    }
}

fn counted(n: i32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn reply_body(viewer: &Viewer, reply: &ActivityRow) -> Markup {
    html! {
        article class="reply" aria-label=(format!("Reply by {}", reply.display_name)) {
            (byline(viewer, reply))
            p class="message" { (reply.message) }
        }
    }
}

fn byline(viewer: &Viewer, activity: &ActivityRow) -> Markup {
    let user = format!("/@{}", activity.handle);
    // A reply's own page is its parent's; a crud links to its status page.
    let status = match activity.reply_to_activity_uuid {
        None => Some(format!("{user}/status/{}", activity.uuid)),
        Some(_) => None,
    };
    html! {
        p class="byline" {
            a class="name" href=(user) { (activity.display_name) }
            " "
            span class="handle" { "@" (activity.handle) }
            " · "
            @let age = html! {
                time datetime=(encode_timestamp(&activity.created_at)) data-age {
                    (clock::age(activity.created_at, viewer.now))
                }
            };
            @match status {
                // The visible age starts the link's name (WCAG 2.5.3), the rest says where it goes.
                Some(href) => a class="age" href=(href) { (age) span class="sr-only" { " ago: open this crud" } },
                None => (age),
            }
        }
    }
}
