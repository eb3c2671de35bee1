//! The crates' layering, read from `cargo tree`: what a crate links is what it ships with, so the
//! Lambda and the API must not carry the local-cluster supervisor, the CLI or the AWS SDK.

use std::collections::BTreeSet;
use std::process::Command;

/// Every package `package` links in a normal (non-dev, non-build) build.
fn linked_packages(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let names: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(
        names.contains(package),
        "{package} not in its own tree: {text}"
    );
    names
}

fn assert_links_none_of(package: &str, forbidden: &[&str]) {
    let linked = linked_packages(package);
    let found: Vec<&&str> = forbidden
        .iter()
        .filter(|f| {
            linked.iter().any(|name| {
                name == **f || (f.ends_with('*') && name.starts_with(f.trim_end_matches('*')))
            })
        })
        .collect();
    assert!(found.is_empty(), "{package} links {found:?}");
}

#[test]
fn the_lambda_links_no_cluster_supervisor_web_framework_cli_or_aws_sdk() {
    assert_links_none_of(
        "post-confirmation",
        &[
            "local-cluster",
            "nix",
            "axum",
            "clap",
            "utoipa",
            "aws-sdk-*",
            "aws-config",
        ],
    );
}

#[test]
fn the_api_links_no_cluster_supervisor_cli_or_aws_sdk() {
    assert_links_none_of(
        "api",
        &["local-cluster", "nix", "clap", "aws-sdk-*", "aws-config"],
    );
}

#[test]
fn the_data_layer_links_no_process_supervisor_or_web_framework() {
    assert_links_none_of(
        "db",
        &["local-cluster", "nix", "axum", "aws-sdk-*", "utoipa"],
    );
}

#[test]
fn the_cli_links_the_cluster_supervisor() {
    // The guard above only means something if the check can see the crate where it belongs.
    assert!(linked_packages("cli").contains("local-cluster"));
}
