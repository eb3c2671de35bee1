//! `cruddur rds allow-sg | revoke | audit` and `create`'s placement, against moto on 127.0.0.1.
//! What the commands did is read back with the SDK's own describe calls, not with our code.

use aws_sdk_ec2::types::builders::IpPermissionBuilder;
use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, SecurityGroupRule, UserIdGroupPair};
use predicates::prelude::*;

use crate::moto::{cruddur_aws, fresh_region, sdk_config};

struct Network {
    ec2: aws_sdk_ec2::Client,
    vpc: String,
    zones: Vec<String>,
}

impl Network {
    async fn new(region: &str) -> Self {
        let ec2 = aws_sdk_ec2::Client::new(&sdk_config(region).await);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.20.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc()
            .unwrap()
            .vpc_id()
            .unwrap()
            .to_owned();
        let zones = ec2
            .describe_availability_zones()
            .send()
            .await
            .unwrap()
            .availability_zones()
            .iter()
            .filter_map(|z| z.zone_name().map(str::to_owned))
            .collect();
        Self { ec2, vpc, zones }
    }

    async fn group(&self, name: &str, vpc: &str) -> String {
        self.ec2
            .create_security_group()
            .group_name(name)
            .description(name)
            .vpc_id(vpc)
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_owned()
    }

    async fn subnet(&self, cidr: &str, zone: usize) -> String {
        self.ec2
            .create_subnet()
            .vpc_id(&self.vpc)
            .cidr_block(cidr)
            .availability_zone(&self.zones[zone])
            .send()
            .await
            .unwrap()
            .subnet()
            .unwrap()
            .subnet_id()
            .unwrap()
            .to_owned()
    }

    async fn inbound(&self, group: &str) -> Vec<SecurityGroupRule> {
        self.ec2
            .describe_security_group_rules()
            .filters(Filter::builder().name("group-id").values(group).build())
            .send()
            .await
            .unwrap()
            .security_group_rules()
            .iter()
            .filter(|r| r.is_egress() == Some(false))
            .cloned()
            .collect()
    }

    /// Adds the inbound rule tcp 5432 from `from` to `group`, as an operator would by hand.
    async fn allow(
        &self,
        group: &str,
        from: impl FnOnce(IpPermissionBuilder) -> IpPermissionBuilder,
    ) {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(5432)
            .to_port(5432);
        self.ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .ip_permissions(from(permission).build())
            .send()
            .await
            .unwrap();
    }

    async fn allow_cidr(&self, group: &str, cidr: &str) {
        self.allow(group, |p| {
            p.ip_ranges(IpRange::builder().cidr_ip(cidr).build())
        })
        .await;
    }

    async fn allow_group(&self, group: &str, from: &str) {
        self.allow(group, |p| {
            p.user_id_group_pairs(UserIdGroupPair::builder().group_id(from).build())
        })
        .await;
    }
}

/// `cruddur rds create` in `region` with a master user and `args`.
fn rds_create(region: &str, args: &[&str]) -> assert_cmd::assert::Assert {
    cruddur_aws(region)
        .args(["rds", "create"])
        .args(args)
        .env("MASTER_USERNAME", "cruddurroot")
        .env("MASTER_USER_PASSWORD", "s3cret-master-pw")
        .assert()
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

#[tokio::test]
async fn allow_sg_writes_one_described_rule_and_revoke_removes_it() {
    let region = fresh_region();
    let net = Network::new(region).await;
    let db = net.group("db", &net.vpc).await;
    let app = net.group("app", &net.vpc).await;
    for expected in ["now admits tcp 5432 from security group", "already admits"] {
        cruddur_aws(region)
            .args(["rds", "allow-sg", "--from", &app, "--group-id", &db])
            .assert()
            .success()
            .stdout(predicate::str::contains(expected));
    }
    let rules = net.inbound(&db).await;
    assert_eq!(rules.len(), 1, "{rules:?}");
    let rule = &rules[0];
    assert_eq!(
        rule.referenced_group_info().and_then(|g| g.group_id()),
        Some(app.as_str())
    );
    assert_eq!(rule.ip_protocol(), Some("tcp"));
    assert_eq!((rule.from_port(), rule.to_port()), (Some(5432), Some(5432)));
    assert_eq!(rule.cidr_ipv4(), None);
    // moto leaves a pair's description out of DescribeSecurityGroupRules; the group has it.
    let described = net
        .ec2
        .describe_security_groups()
        .group_ids(&db)
        .send()
        .await
        .unwrap();
    let pair = described.security_groups()[0]
        .ip_permissions()
        .iter()
        .flat_map(|p| p.user_id_group_pairs())
        .find(|p| p.group_id() == Some(app.as_str()))
        .cloned()
        .unwrap();
    assert!(
        pair.description().is_some_and(|d| d.contains("cruddur")),
        "{pair:?}"
    );

    // Refused before anything is written: another VPC's group, a group that does not exist,
    // something that is not a group id.
    let elsewhere_vpc = net
        .ec2
        .create_vpc()
        .cidr_block("10.30.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_owned();
    let elsewhere = net.group("elsewhere", &elsewhere_vpc).await;
    for (from, expected) in [
        (elsewhere.as_str(), "peering"),
        ("sg-0000000000dead", "not found"),
        ("app", "not a security group id"),
    ] {
        let assert = cruddur_aws(region)
            .args(["rds", "allow-sg", "--from", from, "--group-id", &db])
            .assert()
            .failure();
        let stderr = stderr_of(&assert);
        // The SDK may warn on lines of its own; the command's error is one line.
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{from}: {stderr}");
        assert!(errors[0].contains(expected), "{from}: {stderr}");
    }
    assert_eq!(net.inbound(&db).await.len(), 1);

    // A laptop's /32 beside it: revoke takes each away by what it admits, and only that.
    net.allow_cidr(&db, "203.0.113.7/32").await;
    cruddur_aws(region)
        .args(["rds", "revoke", "--from", &app, "--group-id", &db])
        .assert()
        .success()
        .stdout(predicate::str::contains("no longer admits PostgreSQL from"));
    let left = net.inbound(&db).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].cidr_ipv4(), Some("203.0.113.7/32"));
    cruddur_aws(region)
        .args(["rds", "revoke", "--from", &app, "--group-id", &db])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing changed"));
    cruddur_aws(region)
        .args(["rds", "revoke", "--ip", "203.0.113.7", "--group-id", &db])
        .assert()
        .success()
        .stdout(predicate::str::contains("203.0.113.7/32"));
    assert!(net.inbound(&db).await.is_empty());
    cruddur_aws(region)
        .args(["rds", "revoke", "--group-id", &db])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--from").and(predicate::str::contains("--ip")));
}

#[tokio::test]
async fn create_puts_a_private_instance_in_the_subnets_and_group_given_and_refuses_public_subnets()
{
    let region = fresh_region();
    let net = Network::new(region).await;
    let sg = net.group("db", &net.vpc).await;
    let private_a = net.subnet("10.20.1.0/24", 0).await;
    let private_b = net.subnet("10.20.2.0/24", 1).await;
    let public = net.subnet("10.20.3.0/24", 1).await;
    // `public` routes 0.0.0.0/0 to an internet gateway.
    let igw = net
        .ec2
        .create_internet_gateway()
        .send()
        .await
        .unwrap()
        .internet_gateway()
        .unwrap()
        .internet_gateway_id()
        .unwrap()
        .to_owned();
    net.ec2
        .attach_internet_gateway()
        .internet_gateway_id(&igw)
        .vpc_id(&net.vpc)
        .send()
        .await
        .unwrap();
    let table = net
        .ec2
        .create_route_table()
        .vpc_id(&net.vpc)
        .send()
        .await
        .unwrap()
        .route_table()
        .unwrap()
        .route_table_id()
        .unwrap()
        .to_owned();
    net.ec2
        .create_route()
        .route_table_id(&table)
        .destination_cidr_block("0.0.0.0/0")
        .gateway_id(&igw)
        .send()
        .await
        .unwrap();
    net.ec2
        .associate_route_table()
        .route_table_id(&table)
        .subnet_id(&public)
        .send()
        .await
        .unwrap();

    let rds = aws_sdk_rds::Client::new(&sdk_config(region).await);
    let subnets = format!("{private_a},{public}");
    let assert = rds_create(
        region,
        &[
            "--identifier",
            "exposed",
            "--vpc-id",
            &net.vpc,
            "--subnets",
            &subnets,
        ],
    )
    .failure();
    let err = stderr_of(&assert);
    assert!(err.contains(&format!("subnet {public} is public")), "{err}");
    assert!(err.contains(&igw), "{err}");
    let nothing = rds
        .describe_db_instances()
        .db_instance_identifier("exposed")
        .send()
        .await;
    assert!(nothing.is_err(), "no instance may be created: {nothing:?}");

    let subnets = format!("{private_a},{private_b}");
    rds_create(
        region,
        &[
            "--vpc-id",
            &net.vpc,
            "--subnets",
            &subnets,
            "--security-group",
            &sg,
        ],
    )
    .success();
    let described = rds
        .describe_db_instances()
        .db_instance_identifier("cruddur-db-instance")
        .send()
        .await
        .unwrap();
    let instance = &described.db_instances()[0];
    assert_eq!(instance.publicly_accessible(), Some(false));
    let group = instance.db_subnet_group().unwrap();
    assert_eq!(
        group.db_subnet_group_name(),
        Some("cruddur-db-instance-private")
    );
    let mut subnets: Vec<&str> = group
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_identifier())
        .collect();
    subnets.sort_unstable();
    let mut expected = vec![private_a.as_str(), private_b.as_str()];
    expected.sort_unstable();
    assert_eq!(subnets, expected);
    let groups: Vec<&str> = instance
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(groups, [sg.as_str()]);

    // The group made above, named.
    rds_create(
        region,
        &[
            "--identifier",
            "second",
            "--subnet-group",
            "cruddur-db-instance-private",
        ],
    )
    .success();
    let second = rds
        .describe_db_instances()
        .db_instance_identifier("second")
        .send()
        .await
        .unwrap();
    assert_eq!(
        second.db_instances()[0]
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name()),
        Some("cruddur-db-instance-private")
    );
}

#[tokio::test]
async fn audit_names_every_finding_and_passes_only_a_private_protected_instance() {
    let region = fresh_region();
    let net = Network::new(region).await;
    let open = net.group("open", &net.vpc).await;
    let app = net.group("app", &net.vpc).await;
    let closed = net.group("closed", &net.vpc).await;
    net.allow_cidr(&open, "0.0.0.0/0").await;
    net.allow_cidr(&open, "203.0.113.7/32").await;
    net.allow_group(&closed, &app).await;
    let a = net.subnet("10.20.1.0/24", 0).await;
    let b = net.subnet("10.20.2.0/24", 1).await;
    let subnets = format!("{a},{b}");
    let create = |id: &str, extra: &[&str]| {
        let placement = [
            "--identifier",
            id,
            "--vpc-id",
            &net.vpc,
            "--subnets",
            &subnets,
        ];
        rds_create(region, &[&placement[..], extra].concat()).success();
    };
    // The seed's way: no backups, no deletion protection, a password of our own, and a group
    // open to the world and to a laptop.
    create("seedlike", &["--security-group", &open]);
    let assert = cruddur_aws(region)
        .args(["rds", "audit", "--identifier", "seedlike"])
        .assert()
        .failure();
    let out = stdout_of(&assert);
    for expected in [
        "FAIL  automated backups off",
        "FAIL  deletion protection off",
        "FAIL  the master user's password is not managed",
        "admits PostgreSQL from 0.0.0.0/0",
    ] {
        assert!(out.contains(expected), "{expected}: {out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("warn  ") && l.contains("203.0.113.7/32")),
        "{out}"
    );
    assert!(!out.contains("publicly accessible"), "{out}");
    assert!(!out.contains("not encrypted"), "{out}");
    assert!(
        stderr_of(&assert).contains("4 finding(s)"),
        "{}",
        stderr_of(&assert)
    );
    let status = cruddur_aws(region)
        .args(["rds", "status", "--identifier", "seedlike"])
        .assert()
        .success();
    assert!(
        stdout_of(&status).contains("audit:      4 to fix, 1 to note"),
        "{}",
        stdout_of(&status)
    );

    create("exposed", &["--public", "--storage-encrypted", "false"]);
    let assert = cruddur_aws(region)
        .args(["rds", "audit", "--identifier", "exposed"])
        .assert()
        .failure();
    let out = stdout_of(&assert);
    assert!(out.contains("FAIL  publicly accessible"), "{out}");
    assert!(out.contains("FAIL  storage not encrypted"), "{out}");

    // As the quiz says: private, reached from the app's group only, backed up, protected, and
    // its master password kept by RDS.
    create(
        "private",
        &[
            "--security-group",
            &closed,
            "--backup-retention",
            "7",
            "--deletion-protection",
            "--manage-master-user-password",
        ],
    );
    cruddur_aws(region)
        .args(["rds", "audit", "--identifier", "private"])
        .assert()
        .success()
        .stdout(predicate::str::contains("nothing against the practice"))
        .stdout(predicate::str::contains("FAIL").not())
        .stdout(predicate::str::contains("warn").not());
}
