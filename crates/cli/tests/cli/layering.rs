//! The crates' layering, read from `cargo tree`: what a crate links is what it ships with, so the
//! Lambda and the API must not carry the local-cluster supervisor, the CLI or the AWS SDK.

use std::collections::{BTreeMap, BTreeSet};
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
    const FORBIDDEN: &[&str] = &[
        "local-cluster",
        "nix",
        "axum",
        "clap",
        "utoipa",
        "aws-sdk-*",
        "aws-config",
    ];
    assert_links_none_of("post-confirmation", FORBIDDEN);
    // As deploy/lambda/build.sh builds it (SHIPPED_BUILDS[1]).
    let linked = linked_from(&build_graph(SHIPPED_BUILDS[1].1), "post-confirmation");
    let found = forbidden_among(&linked, FORBIDDEN);
    assert!(
        found.is_empty(),
        "the Lambda as build.sh builds it links {found:?}"
    );
}

#[test]
fn the_api_links_no_cluster_supervisor_cli_or_aws_sdk() {
    assert_links_none_of(
        "api",
        &["local-cluster", "nix", "clap", "aws-sdk-*", "aws-config"],
    );
}

/// The shipped builds, as `cargo tree` selections that unify features exactly as those builds do.
/// - `-p cli --no-default-features`: script/server (and script/browser, contract, bench);
/// - every member: `cargo build --bin cruddur` (README, the `aws` build) and
///   deploy/lambda/build.sh (`cargo lambda build --bin post-confirmation`), both run at the root
///   of a virtual workspace without `-p`, which selects every member and unifies their features.
const SHIPPED_BUILDS: [(&str, &[&str]); 2] = [
    (
        "cruddur as script/server builds it",
        &["-p", "cli", "--no-default-features"],
    ),
    (
        "cruddur with aws, and the Lambda (every member selected)",
        &["--workspace"],
    ),
];

/// Each package's direct (normal) dependencies in the build `cargo tree` resolves for `selection`.
fn build_graph(selection: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "depth",
            "--format",
            "{p}",
        ])
        .args(selection)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo tree {selection:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    // Lines are `<depth><name> v<version> …`; a package's children follow it one level deeper
    // (at its first mention; later ones are marked `(*)` and not expanded).
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut path: Vec<String> = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let depth: usize = line[..digits]
            .parse()
            .unwrap_or_else(|_| panic!("no depth: {line}"));
        let name = line[digits..].split_whitespace().next().unwrap().to_owned();
        path.truncate(depth);
        if let Some(parent) = path.last() {
            graph
                .entry(parent.clone())
                .or_default()
                .insert(name.clone());
        }
        graph.entry(name.clone()).or_default();
        path.push(name);
    }
    graph
}

/// Everything `package` links, directly or not, in `graph`.
fn linked_from(graph: &BTreeMap<String, BTreeSet<String>>, package: &str) -> BTreeSet<String> {
    assert!(
        graph.contains_key(package),
        "{package} is not in this build"
    );
    let mut linked = BTreeSet::new();
    let mut todo = vec![package.to_owned()];
    while let Some(next) = todo.pop() {
        for dep in &graph[&next] {
            if linked.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    linked
}

/// The entries of `forbidden` (a trailing `*` is a prefix) that `linked` holds.
fn forbidden_among(linked: &BTreeSet<String>, forbidden: &[&str]) -> Vec<String> {
    forbidden
        .iter()
        .filter(|f| {
            linked.iter().any(|name| {
                name == **f || (f.ends_with('*') && name.starts_with(f.trim_end_matches('*')))
            })
        })
        .map(|f| (*f).to_owned())
        .collect()
}

#[test]
fn the_shipped_builds_are_the_ones_modelled_here() {
    assert!(
        include_str!("../../../../script/server")
            .contains("cargo build --release --locked -p cli --bin cruddur --no-default-features"),
        "script/server builds differently now: update SHIPPED_BUILDS"
    );
    assert!(
        include_str!("../../../../deploy/lambda/build.sh")
            .contains("cargo lambda build --release --locked --bin post-confirmation"),
        "deploy/lambda/build.sh builds differently now: update SHIPPED_BUILDS"
    );
}

#[test]
fn the_data_layer_links_no_process_supervisor_or_web_framework() {
    const FORBIDDEN: &[&str] = &["local-cluster", "nix", "axum", "aws-sdk-*", "utoipa"];
    // The crate on its own…
    assert_links_none_of("db", FORBIDDEN);
    // …and as each shipped binary builds it, where its neighbours' features are unified in.
    for (build, selection) in SHIPPED_BUILDS {
        let linked = linked_from(&build_graph(selection), "db");
        assert!(
            linked.contains("tokio-postgres"),
            "{build}: db's own dependencies are missing from the tree: {linked:?}"
        );
        let found = forbidden_among(&linked, FORBIDDEN);
        assert!(found.is_empty(), "{build}: db links {found:?}");
    }
}

#[test]
fn the_cli_links_the_cluster_supervisor() {
    // The guard above only means something if the check can see the crate where it belongs.
    assert!(linked_packages("cli").contains("local-cluster"));
}
