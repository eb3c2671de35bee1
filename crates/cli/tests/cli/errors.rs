//! Failures are one line on stderr, exit non-zero, never show the password, never hang.

use std::net::TcpListener;

use predicates::prelude::*;

use crate::{cruddur, password};

const SECRET: &str = "hunter2-secret";

fn one_line_error(args: &[&str]) -> String {
    failure_line(cruddur().args(args))
}

/// The same for `args` run against `CONNECTION_URL=url`.
fn one_line_error_at(url: &str, args: &[&str]) -> String {
    failure_line(cruddur().args(args).env("CONNECTION_URL", url))
}

fn failure_line(cmd: &mut assert_cmd::Command) -> String {
    let assert = cmd.assert().failure();
    let err = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(!err.contains(SECRET), "password leaked: {err}");
    err
}

#[test]
fn a_malformed_url_names_the_problem() {
    let err = one_line_error_at(
        &format!("postgres://u:{SECRET}@h:notaport/db"),
        &["db", "status"],
    );
    assert!(err.contains("malformed"), "{err}");
    let err = one_line_error(&["db", "status", "--url", "mysql://u@h/db"]);
    assert!(err.contains("postgres://"), "{err}");
}

#[test]
fn a_wrong_password_names_the_problem() {
    let port = test_db::cluster().port();
    let err = one_line_error_at(
        &format!("postgres://postgres:{SECRET}@127.0.0.1:{port}/postgres"),
        &["db", "status"],
    );
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains(&password()));
}

#[test]
fn an_unreachable_server_names_the_problem() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = one_line_error_at(
        &format!("postgres://u:{SECRET}@127.0.0.1:{port}/db"),
        &["db", "status"],
    );
    assert!(err.contains("refused"), "{err}");
    assert!(
        err.contains("u:****@127.0.0.1"),
        "the masked URL says where: {err}"
    );
}

#[test]
fn a_silent_server_times_out_instead_of_hanging() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = one_line_error_at(
        &format!("postgres://u:{SECRET}@127.0.0.1:{port}/db?connect_timeout=1"),
        &["db", "status"],
    );
    assert!(err.contains("no answer"), "{err}");
    drop(listener);
}

#[test]
fn unusable_environment_urls_are_named_by_variable() {
    cruddur()
        .args(["db", "status"])
        .env(
            "CONNECTION_URL",
            format!("postgres://u:{SECRET}@h/db?sslmode=sometimes"),
        )
        .assert()
        .failure()
        .stderr(predicate::str::contains("CONNECTION_URL is not usable"))
        .stderr(predicate::str::contains("sslmode"))
        .stderr(predicate::str::contains(SECRET).not());
}

/// The names listed under `Commands:` in a `--help` text (first word of each entry line).
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn help_lists_exactly_the_db_commands_and_each_has_its_own_help() {
    let assert = cruddur().args(["db", "--help"]).assert().success();
    let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let commands = [
        "connect",
        "create",
        "drop",
        "schema-load",
        "migrate",
        "status",
        "seed",
        "sessions",
        "kill-sessions",
        "setup",
        "purge",
        "create-app-user",
    ];
    let mut expected: Vec<String> = commands.iter().map(|c| (*c).to_owned()).collect();
    expected.push("help".to_owned());
    assert_eq!(listed_commands(&out), expected, "{out}");
    for command in commands {
        let assert = cruddur().args(["db", command, "--help"]).assert().success();
        let own = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
        assert!(
            own.contains(&format!("Usage: cruddur db {command}")),
            "{command}: {own}"
        );
    }
}
