//! `cruddur rds …` against a real AWS API emulator (moto) on 127.0.0.1. moto jumps straight to
//! final states and does not validate engine versions or classes; nothing here relies on either.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use predicates::prelude::*;

use crate::moto::{cruddur_aws, fresh_region, sdk_config};

const PASSWORD: &str = "s3cret-master-pw";

fn create(region: &str) -> assert_cmd::assert::Assert {
    cruddur_aws(region)
        .args(["rds", "create"])
        .env("MASTER_USERNAME", "cruddurroot")
        .env("MASTER_USER_PASSWORD", PASSWORD)
        .assert()
}

#[tokio::test]
async fn create_uses_the_seed_options_and_a_second_create_says_it_exists() {
    let region = fresh_region();
    create(region)
        .success()
        .stdout(predicate::str::contains("== rds-create"))
        .stdout(predicate::str::contains("creating cruddur-db-instance"))
        .stdout(predicate::str::contains(PASSWORD).not());
    let config = sdk_config(region).await;
    let info = aws::rds::describe(&aws::rds_client(&config), "cruddur-db-instance")
        .await
        .unwrap();
    assert_eq!(info.class, "db.t3.micro");
    assert_eq!(info.engine, "postgres");
    assert_eq!(info.engine_version, "14.6");
    assert_eq!(info.allocated_storage_gb, Some(20));
    assert_eq!(info.storage_type.as_deref(), Some("gp2"));
    assert_eq!(info.db_name.as_deref(), Some("cruddur"));
    assert_eq!(info.endpoint.as_ref().map(|e| e.1), Some(5432));
    assert_eq!(info.multi_az, Some(false));
    assert_eq!(info.backup_retention_days, Some(0));
    assert_eq!(info.storage_encrypted, Some(true));
    // Performance Insights: moto does not model it; aws::rds's unit tests check the request.
    assert_eq!(info.deletion_protection, Some(false));
    assert_eq!(info.publicly_accessible, Some(false));
    assert_eq!(info.master_username.as_deref(), Some("cruddurroot"));

    create(region)
        .failure()
        .stderr(predicate::str::contains("already exists"))
        .stderr(predicate::str::contains("DBInstanceAlreadyExists"));
}

#[tokio::test]
async fn flags_override_the_defaults_and_public_warns() {
    let region = fresh_region();
    cruddur_aws(region)
        .args([
            "rds",
            "create",
            "--identifier",
            "other-db",
            "--class",
            "db.t3.small",
            "--allocated-storage",
            "30",
            "--public",
            "--performance-insights-days",
            "0",
        ])
        .env("MASTER_USERNAME", "cruddurroot")
        .env("MASTER_USER_PASSWORD", PASSWORD)
        .assert()
        .success()
        .stdout(predicate::str::contains("warning: publicly accessible"));
    let config = sdk_config(region).await;
    let info = aws::rds::describe(&aws::rds_client(&config), "other-db")
        .await
        .unwrap();
    assert_eq!(info.class, "db.t3.small");
    assert_eq!(info.allocated_storage_gb, Some(30));
    assert_eq!(info.publicly_accessible, Some(true));
}

#[test]
fn create_without_credentials_names_the_variable() {
    let region = fresh_region();
    cruddur_aws(region)
        .args(["rds", "create"])
        .env("MASTER_USERNAME", "cruddurroot")
        .assert()
        .failure()
        .stderr(predicate::str::contains("MASTER_USER_PASSWORD is not set"));
    cruddur_aws(region)
        .args(["rds", "create"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("MASTER_USERNAME is not set"));
}

#[test]
fn status_prints_state_endpoint_and_a_masked_connection_url() {
    let region = fresh_region();
    create(region).success();
    let assert = cruddur_aws(region)
        .args(["rds", "status"])
        .assert()
        .success();
    let out = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(out.contains("state:      available"), "{out}");
    assert!(out.contains("engine:     postgres 14.6"), "{out}");
    assert!(
        out.contains("export PROD_CONNECTION_URL='postgresql://cruddurroot:****@"),
        "{out}"
    );
    assert!(
        out.contains(":5432/cruddur?sslmode=verify-full&sslrootcert="),
        "{out}"
    );
    assert!(!out.contains(PASSWORD), "{out}");
}

#[test]
fn stop_start_and_wait_follow_the_states_with_clear_messages() {
    let region = fresh_region();
    create(region).success();
    cruddur_aws(region)
        .args(["rds", "stop"])
        .assert()
        .success()
        .stdout(predicate::str::contains("cruddur-db-instance: stopped"));
    cruddur_aws(region)
        .args(["rds", "stop"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already stopped; nothing to do"));
    // Already in the state: returns after one poll, whatever the interval.
    cruddur_aws(region)
        .args([
            "rds",
            "wait",
            "--until",
            "stopped",
            "--interval-secs",
            "3600",
        ])
        .timeout(Duration::from_secs(60))
        .assert()
        .success()
        .stdout(predicate::str::contains("cruddur-db-instance is stopped"));
    cruddur_aws(region)
        .args(["rds", "start"])
        .assert()
        .success()
        .stdout(predicate::str::contains("cruddur-db-instance: available"));
    cruddur_aws(region)
        .args(["rds", "start"])
        .assert()
        .success()
        .stdout(predicate::str::contains("already available"));
    cruddur_aws(region)
        .args([
            "rds",
            "wait",
            "--until",
            "stopped",
            "--timeout-secs",
            "2",
            "--interval-secs",
            "1",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("timed out"))
        .stderr(predicate::str::contains("last state: available"));
}

#[tokio::test]
async fn delete_refuses_without_yes_and_without_a_snapshot_choice() {
    let region = fresh_region();
    create(region).success();
    cruddur_aws(region)
        .args(["rds", "delete", "--skip-final-snapshot"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("without --yes"));
    cruddur_aws(region)
        .args(["rds", "delete", "--yes"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--final-snapshot-id"));
    let config = sdk_config(region).await;
    assert!(
        aws::rds::describe(&aws::rds_client(&config), "cruddur-db-instance")
            .await
            .is_ok(),
        "still there"
    );
    cruddur_aws(region)
        .args(["rds", "delete", "--yes", "--skip-final-snapshot"])
        .assert()
        .success();
    let gone = aws::rds::describe(&aws::rds_client(&config), "cruddur-db-instance").await;
    assert!(
        matches!(gone, Err(aws::AwsError::InstanceNotFound(_))),
        "{gone:?}"
    );
}

#[test]
fn an_unknown_instance_is_named() {
    let region = fresh_region();
    cruddur_aws(region)
        .args(["rds", "status", "--identifier", "no-such-db"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no-such-db not found"));
}

/// A security group with the rule allow-ip rewrites plus one it must not touch.
async fn group_with_rules(region: &str) -> (String, String) {
    let ec2 = aws::ec2_client(&sdk_config(region).await);
    let group = ec2
        .create_security_group()
        .group_name("cruddur-db-sg")
        .description("cruddur database")
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_owned();
    let permission = |port: i32, cidr: &str| {
        aws_sdk_ec2::types::IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .ip_ranges(
                aws_sdk_ec2::types::IpRange::builder()
                    .cidr_ip(cidr)
                    .description("seed")
                    .build(),
            )
            .build()
    };
    ec2.authorize_security_group_ingress()
        .group_id(&group)
        .ip_permissions(permission(5432, "10.1.2.3/32"))
        .ip_permissions(permission(443, "0.0.0.0/0"))
        .send()
        .await
        .unwrap();
    let rule = rule_id_where(region, &group, |r| {
        r.from_port() == Some(5432) && r.is_egress() == Some(false)
    })
    .await;
    (group, rule)
}

/// Every rule of `group`, inbound and outbound.
async fn rules_in(region: &str, group: &str) -> Vec<aws_sdk_ec2::types::SecurityGroupRule> {
    aws::ec2_client(&sdk_config(region).await)
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(group)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .to_vec()
}

/// The id of the first rule of `group` that `matches`.
async fn rule_id_where(
    region: &str,
    group: &str,
    matches: impl Fn(&aws_sdk_ec2::types::SecurityGroupRule) -> bool,
) -> String {
    rules_in(region, group)
        .await
        .iter()
        .find(|r| matches(r))
        .and_then(|r| r.security_group_rule_id())
        .unwrap()
        .to_owned()
}

async fn rules_of(region: &str, group: &str) -> Vec<(Option<i32>, Option<String>, Option<bool>)> {
    let mut rules: Vec<_> = rules_in(region, group)
        .await
        .iter()
        .map(|r| {
            (
                r.from_port(),
                r.cidr_ipv4().map(str::to_owned),
                r.is_egress(),
            )
        })
        .collect();
    rules.sort();
    rules
}

#[tokio::test]
async fn allow_ip_rewrites_only_its_rule_to_the_ip_and_is_idempotent() {
    let region = fresh_region();
    let (group, rule) = group_with_rules(region).await;
    let before = rules_of(region, &group).await;
    cruddur_aws(region)
        .args(["rds", "allow-ip", "--ip", "203.0.113.7"])
        .env("DB_SG_ID", &group)
        .env("DB_SG_RULE_ID", &rule)
        .assert()
        .success()
        .stdout(predicate::str::contains("10.1.2.3/32 -> 203.0.113.7/32"));
    let state = aws::security_group::describe_rule(
        &aws::ec2_client(&sdk_config(region).await),
        &group,
        &rule,
    )
    .await
    .unwrap();
    assert_eq!(state.cidr_ipv4.as_deref(), Some("203.0.113.7/32"));
    assert_eq!((state.from_port, state.to_port), (Some(5432), Some(5432)));
    assert_eq!(state.protocol.as_deref(), Some("tcp"));
    assert!(state
        .description
        .unwrap()
        .starts_with("cruddur allow-ip from "));
    let after = rules_of(region, &group).await;
    let unchanged = |rules: &[(Option<i32>, Option<String>, Option<bool>)]| {
        rules
            .iter()
            .filter(|r| r.0 != Some(5432))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        unchanged(&after),
        unchanged(&before),
        "other rules untouched"
    );
    assert_eq!(after.len(), before.len());

    cruddur_aws(region)
        .args(["rds", "allow-ip", "--ip", "203.0.113.7"])
        .env("DB_SG_ID", &group)
        .env("DB_SG_RULE_ID", &rule)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "already allows 203.0.113.7/32; nothing changed",
        ));
}

#[tokio::test]
async fn allow_ip_detects_the_address_and_says_where_it_came_from() {
    let region = fresh_region();
    let (group, rule) = group_with_rules(region).await;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let echo = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = stream.read(&mut buf).unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: close\r\n\r\n198.51.100.23\n")
            .unwrap();
    });
    cruddur_aws(region)
        .args(["rds", "allow-ip", "--ip-url", &url])
        .env("DB_SG_ID", &group)
        .env("DB_SG_RULE_ID", &rule)
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "public address 198.51.100.23 (from {url})"
        )))
        .stdout(predicate::str::contains("-> 198.51.100.23/32"));
    echo.join().unwrap();
}

/// Serves one HTTP answer (`status`, `extra` headers, `body`) to each connection, on 127.0.0.1.
fn answer_forever(status: &'static str, extra: String, body: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    url
}

/// Plain http only to loopback, for the address lookup, its redirects and the AWS endpoint. The
/// address used, `[::ffff:127.0.0.1]`, is loopback in fact but not by the rule: were the rule not
/// applied, each request below would succeed.
#[tokio::test]
async fn plain_http_off_loopback_is_refused_for_the_ip_lookup_its_redirects_and_aws() {
    let region = fresh_region();
    let (group, rule) = group_with_rules(region).await;
    let before = rules_of(region, &group).await;
    let echo = answer_forever("200 OK", String::new(), "198.51.100.23\n");
    let mapped = echo.replace("127.0.0.1", "[::ffff:127.0.0.1]");
    let redirect = answer_forever("302 Found", format!("Location: {mapped}\r\n"), "");
    for (ip_url, shown) in [
        (&mapped, "http://[::ffff:7f00:1]"),
        (&redirect, "http://[::ffff:7f00:1]"),
    ] {
        cruddur_aws(region)
            .args(["rds", "allow-ip", "--ip-url", ip_url])
            .env("DB_SG_ID", &group)
            .env("DB_SG_RULE_ID", &rule)
            .assert()
            .failure()
            .stderr(predicate::str::contains(format!(
                "cannot detect the public IP address from {ip_url}"
            )))
            .stderr(predicate::str::contains(format!("{shown}:")))
            .stderr(predicate::str::contains(
                "is neither https nor plain http to a loopback address",
            ));
    }
    assert_eq!(rules_of(region, &group).await, before);
    let endpoint = crate::moto::endpoint().replace("127.0.0.1", "[::ffff:127.0.0.1]");
    cruddur_aws(region)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .args(["rds", "status", "--identifier", "no-such-db"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "AWS_ENDPOINT_URL: http://[::ffff:7f00:1]:",
        ))
        .stderr(predicate::str::contains("no-such-db").not());
}

#[tokio::test]
async fn allow_ip_rejects_bad_input_and_unknown_rules_and_missing_variables() {
    let region = fresh_region();
    let (group, _rule) = group_with_rules(region).await;
    cruddur_aws(region)
        .args(["rds", "allow-ip", "--ip", "999.1.1.1"])
        .env("DB_SG_ID", &group)
        .env("DB_SG_RULE_ID", "sgr-0123456789abcdef0")
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "`999.1.1.1` is not a usable IPv4 address",
        ));
    cruddur_aws(region)
        .args(["rds", "allow-ip", "--ip", "203.0.113.9"])
        .env("DB_SG_ID", &group)
        .env("DB_SG_RULE_ID", "sgr-0123456789abcdef0")
        .assert()
        .failure()
        .stderr(predicate::str::contains("sgr-0123456789abcdef0 not found"));
    cruddur_aws(region)
        .args(["rds", "allow-ip", "--ip", "203.0.113.9"])
        .env("DB_SG_RULE_ID", "sgr-0123456789abcdef0")
        .assert()
        .failure()
        .stderr(predicate::str::contains("DB_SG_ID is not set"));
    cruddur_aws(region)
        .args(["rds", "allow-ip", "--ip", "203.0.113.9"])
        .env("DB_SG_ID", &group)
        .assert()
        .failure()
        .stderr(predicate::str::contains("DB_SG_RULE_ID is not set"));
}

#[tokio::test]
async fn allow_ip_refuses_an_outbound_rule_and_changes_nothing() {
    let region = fresh_region();
    let (group, _inbound) = group_with_rules(region).await;
    // Every new group has one outbound rule (all traffic to 0.0.0.0/0).
    let egress = rule_id_where(region, &group, |r| r.is_egress() == Some(true)).await;
    let before = rules_of(region, &group).await;
    cruddur_aws(region)
        .args(["rds", "allow-ip", "--ip", "203.0.113.9"])
        .env("DB_SG_ID", &group)
        .env("DB_SG_RULE_ID", &egress)
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "security group rule {egress} of group {group} is an outbound (egress) rule"
        )));
    assert_eq!(rules_of(region, &group).await, before);
}

#[test]
fn an_emulator_that_is_not_running_is_a_clear_error_not_a_hang() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    cruddur_aws("us-east-1")
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .args(["rds", "status"])
        .timeout(Duration::from_secs(90))
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot reach the AWS API"));
}

#[test]
fn missing_credentials_are_named_without_probing_instance_metadata() {
    cruddur_aws("us-east-1")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["rds", "status"])
        .timeout(Duration::from_secs(90))
        .assert()
        .failure()
        .stderr(predicate::str::contains("credentials"));
}

#[test]
fn a_missing_region_is_named() {
    cruddur_aws("us-east-1")
        .env_remove("AWS_REGION")
        .args(["rds", "status"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("AWS_REGION"));
}

#[tokio::test]
async fn a_read_replica_is_created_listed_and_promoted_only_when_asked() {
    let region = fresh_region();
    // The seed's instance keeps no backups, which RDS requires of a replica's source.
    create(region).success();
    cruddur_aws(region)
        .args(["rds", "create-replica", "--replica", "r0"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "cruddur-db-instance keeps no automated backups",
        ));
    let source = "cruddur-backed";
    cruddur_aws(region)
        .args([
            "rds",
            "create",
            "--identifier",
            source,
            "--backup-retention",
            "1",
        ])
        .env("MASTER_USERNAME", "cruddurroot")
        .env("MASTER_USER_PASSWORD", PASSWORD)
        .assert()
        .success();
    cruddur_aws(region)
        .args(["rds", "status", "--identifier", source])
        .assert()
        .success()
        .stdout(predicate::str::contains("replicas:   none"));
    create_replica(region, source, "cruddur-read-1")
        .success()
        .stdout(predicate::str::contains(
            "creating cruddur-read-1 as a read replica of cruddur-backed",
        ));
    let config = sdk_config(region).await;
    let replica = aws::rds::describe(&aws::rds_client(&config), "cruddur-read-1")
        .await
        .unwrap();
    assert_eq!(replica.replica_of.as_deref(), Some(source));
    assert_eq!(
        replica.class, "db.t3.micro",
        "the source's class by default"
    );
    cruddur_aws(region)
        .args(["rds", "status", "--identifier", source])
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(
                r"replica:\s+cruddur-read-1 available cruddur-read-1\.\S+:5432",
            )
            .unwrap(),
        );
    cruddur_aws(region)
        .args(["rds", "status", "--identifier", "cruddur-read-1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("replica of: cruddur-backed"));

    // A name in use, a source that does not exist: refused before anything is asked for.
    create_replica(region, source, "cruddur-read-1")
        .failure()
        .stderr(predicate::str::contains("cruddur-read-1 already exists"));
    create_replica(region, "nope", "r2")
        .failure()
        .stderr(predicate::str::contains("DB instance nope not found"));

    cruddur_aws(region)
        .args(["rds", "promote", "--replica", "cruddur-read-1"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("without --yes"));
    cruddur_aws(region)
        .args(["rds", "promote", "--replica", source, "--yes"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "cruddur-backed is not a read replica",
        ));
    cruddur_aws(region)
        .args(["rds", "promote", "--replica", "cruddur-read-1", "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("promoting cruddur-read-1"));
}

#[tokio::test]
async fn status_lag_reads_the_sources_replication_view() {
    let region = fresh_region();
    create(region).success();
    let primary = test_db::OwnCluster::start(local_cluster::Durability::Ephemeral, false).await;
    let url = primary.url(test_db::OWN_DATABASE);
    let status_lag = || {
        cruddur_aws(region)
            .args(["rds", "status", "--lag"])
            .env("PROD_CONNECTION_URL", url.expose())
            .assert()
            .success()
            .stderr(predicate::str::contains(primary_password(&url)).not())
    };
    status_lag().stdout(predicate::str::contains(
        "lag:        no replica is streaming from it",
    ));
    let standby = primary.start_standby().await;
    let on_primary = primary.connect(test_db::OWN_DATABASE).await;
    test_db::wait_until("the standby has replayed everything", async || {
        on_primary
            .query_one(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND replay_lsn = pg_current_wal_lsn()",
                &[],
            )
            .await
            .is_ok_and(|row| row.get::<_, i64>(0) == 1)
    })
    .await;
    status_lag()
        .stdout(predicate::str::contains(
            "lag:        walreceiver streaming: nothing left to replay",
        ))
        .stdout(predicate::str::contains(primary_password(&url)).not());
    // Replay paused, then a write: the source sees WAL the standby has not replayed.
    standby.pause_replay(&primary).await;
    on_primary
        .batch_execute("CREATE TABLE written_while_paused (n int); INSERT INTO written_while_paused VALUES (1)")
        .await
        .unwrap();
    // Everything `status --lag` reads, settled: streaming, the write received, its replay not
    // reported (the standby's feedback arrives on its own schedule).
    test_db::wait_until("the standby has received the write", async || {
        on_primary
            .query_one(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND flush_lsn >= pg_current_wal_lsn() AND replay_lsn < pg_current_wal_lsn()",
                &[],
            )
            .await
            .is_ok_and(|row| row.get::<_, i64>(0) == 1)
    })
    .await;
    status_lag().stdout(
        predicate::str::is_match(r"lag:\s+walreceiver streaming: [1-9]\d* bytes of WAL not replayed, replay \S+ ms behind")
            .unwrap(),
    );
    cruddur_aws(region)
        .args(["rds", "status", "--lag"])
        .env_remove("PROD_CONNECTION_URL")
        .assert()
        .failure()
        .stderr(predicate::str::contains("PROD_CONNECTION_URL is not set"));
}

/// `rds create-replica` of `source` named `replica`.
fn create_replica(region: &str, source: &str, replica: &str) -> assert_cmd::assert::Assert {
    cruddur_aws(region)
        .args([
            "rds",
            "create-replica",
            "--identifier",
            source,
            "--replica",
            replica,
        ])
        .assert()
}

fn primary_password(url: &db::DatabaseUrl) -> String {
    url.parse()
        .unwrap()
        .pg
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap()
}
