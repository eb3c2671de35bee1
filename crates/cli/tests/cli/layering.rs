//! The crates' layering, read from `cargo tree`: what a crate links is what it ships with, so the
//! Lambda and the API must not carry the local-cluster supervisor, the CLI or the AWS SDK, and
//! the data layer no web framework. Checked for each crate alone and as each shipped binary is
//! built, where the features of the other selected packages are unified in.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The shipped builds, as `cargo tree` selections that unify features exactly as those builds do:
/// - `-p cli --no-default-features`: script/server (and script/browser, contract, bench);
/// - every member: `cargo build --bin cruddur` (README, the `aws` build), run at the root of a
///   virtual workspace without `-p`, which selects every member and unifies their features;
/// - `-p post-confirmation`: deploy/lambda/build.sh.
const SHIPPED_BUILDS: [(&str, &[&str]); 3] = [
    (
        "cruddur as script/server builds it",
        &["-p", "cli", "--no-default-features"],
    ),
    ("cruddur with aws (every member selected)", &["--workspace"]),
    (
        "the Lambda as deploy/lambda/build.sh builds it",
        &["-p", "post-confirmation"],
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

/// Everything `package` links when built on its own.
fn linked_packages(package: &str) -> BTreeSet<String> {
    linked_from(&build_graph(&["-p", package]), package)
}

fn assert_links_none_of(package: &str, forbidden: &[&str]) {
    let found = forbidden_among(&linked_packages(package), forbidden);
    assert!(found.is_empty(), "{package} links {found:?}");
}

#[test]
fn the_shipped_builds_are_the_ones_modelled_here() {
    assert!(
        include_str!("../../../../script/server")
            .contains("cargo build --release --locked -p cli --bin cruddur --no-default-features"),
        "script/server builds differently now: update SHIPPED_BUILDS"
    );
    assert!(
        include_str!("../../../../deploy/lambda/build.sh").contains(
            "cargo lambda build --release --locked -p post-confirmation --bin post-confirmation"
        ),
        "deploy/lambda/build.sh builds differently now: update SHIPPED_BUILDS"
    );
}

#[test]
fn the_lambda_links_only_the_sdk_clients_of_its_credentials() {
    assert_links_none_of(
        "post-confirmation",
        &[
            "local-cluster",
            "nix",
            "axum",
            "clap",
            "utoipa",
            // `cruddur rds` and `cognito sync`'s clients: EC2 alone takes minutes to build.
            "aws-sdk-ec2",
            "aws-sdk-cognitoidentityprovider",
            "reqwest",
            // The SDK's default TLS stack: every rustls here uses ring.
            "aws-lc-*",
        ],
    );
    // DB_AUTH=secret|iam: what it does link of the SDK.
    let linked = linked_packages("post-confirmation");
    for needed in ["aws-sdk-secretsmanager", "aws-sdk-rds", "aws-config"] {
        assert!(
            linked.contains(needed),
            "the Lambda lost {needed}: {linked:?}"
        );
    }
}

#[test]
fn no_build_compiles_the_sdks_aws_lc() {
    assert_links_none_of("cli", &["aws-lc-*"]);
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
    // The guards above only mean something if the check can see a crate where it belongs.
    assert!(linked_packages("cli").contains("local-cluster"));
    assert!(
        linked_from(&build_graph(SHIPPED_BUILDS[1].1), "cli").contains("utoipa"),
        "the API's OpenAPI crate is visible in the full build"
    );
}
