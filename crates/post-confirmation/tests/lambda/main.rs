//! The post-confirmation trigger: the handler called directly on fresh databases, and the real
//! binary against a Lambda Runtime API emulator on 127.0.0.1.
#![allow(clippy::unwrap_used)] // helpers of a test binary: a panic is the failure report

mod faults;
mod handler;
mod pre_sign_up;
mod runtime;

use serde_json::Value;

/// The event shipped in deploy/lambda/, shaped like AWS's documented PostConfirmation event.
pub fn example_event() -> Value {
    serde_json::from_str(include_str!("../../../../deploy/lambda/example-event.json")).unwrap()
}

/// A pool aimed at 127.0.0.1:`port` (where no real database answers), with `tuning`.
pub fn pool_on_port(port: u16, tuning: &db::PoolSettings) -> db::Pool {
    let settings = db::DatabaseUrl::new(format!("postgres://u:p@127.0.0.1:{port}/db"))
        .parse()
        .unwrap();
    db::pool::build_pool(&settings, tuning).unwrap()
}

/// The example event for another user.
pub fn event_for(sub: &str, handle: &str, name: &str, email: &str) -> Value {
    let mut event = example_event();
    let attributes = &mut event["request"]["userAttributes"];
    attributes["sub"] = sub.into();
    attributes["preferred_username"] = handle.into();
    attributes["name"] = name.into();
    attributes["email"] = email.into();
    attributes["cognito:email_alias"] = email.into();
    event["userName"] = sub.into();
    event
}
