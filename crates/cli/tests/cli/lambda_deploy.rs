//! `cruddur lambda deploy | status | undeploy` against moto (iam, lambda, ec2, cognito-idp,
//! secretsmanager, rds) on 127.0.0.1. What the commands did is read back with the SDK's own
//! calls. The tests share one region; each deploys a function of its own name into a VPC and a
//! pool of its own, so what one makes cannot be counted by another.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;

use aws_sdk_cognitoidentityprovider::types::{
    LambdaConfigType, PasswordPolicyType, UserPoolPolicyType, VerifiedAttributeType,
};
use aws_sdk_ec2::types::Filter;
use base64::Engine;
use serde_json::Value;
use sha2::Digest;

use test_db::moto::create_secret;

use crate::moto::{cruddur_aws, fresh_region, sdk_config};

/// The region every test here deploys in.
fn region() -> &'static str {
    static REGION: OnceLock<&'static str> = OnceLock::new();
    REGION.get_or_init(fresh_region)
}

/// A trigger the pool had before deploy, which deploy and undeploy must keep.
const CUSTOM_MESSAGE: &str = "arn:aws:lambda:us-east-1:123456789012:function:someone-elses";
const SECRET_PASSWORD: &str = "app-password-never-in-the-function";

struct Stage {
    name: String,
    ec2: aws_sdk_ec2::Client,
    iam: aws_sdk_iam::Client,
    lambda: aws_sdk_lambda::Client,
    cognito: aws_sdk_cognitoidentityprovider::Client,
    vpc: String,
    subnets: Vec<String>,
    db_group: String,
    pool_id: String,
    pool_arn: String,
    secret_arn: String,
    dir: tempfile::TempDir,
}

impl Stage {
    /// A VPC with two subnets and the database's group, a pool with a CustomMessage trigger
    /// and a non-default password policy, and the app secret — what exists before deploy.
    async fn new(name: &str) -> Self {
        let config = sdk_config(region()).await;
        let ec2 = aws_sdk_ec2::Client::new(&config);
        let cognito = aws_sdk_cognitoidentityprovider::Client::new(&config);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.40.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc()
            .unwrap()
            .vpc_id()
            .unwrap()
            .to_owned();
        let mut subnets = Vec::new();
        for (cidr, zone) in [("10.40.1.0/24", "a"), ("10.40.2.0/24", "b")] {
            let subnet = ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(cidr)
                .availability_zone(format!("{}{zone}", region()))
                .send()
                .await
                .unwrap();
            subnets.push(subnet.subnet().unwrap().subnet_id().unwrap().to_owned());
        }
        let db_group = ec2
            .create_security_group()
            .group_name(format!("{name}-db"))
            .description("the database")
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_owned();
        let pool = cognito
            .create_user_pool()
            .pool_name(name)
            .policies(
                UserPoolPolicyType::builder()
                    .password_policy(
                        PasswordPolicyType::builder()
                            .minimum_length(14)
                            .require_symbols(false)
                            .build(),
                    )
                    .build(),
            )
            .auto_verified_attributes(VerifiedAttributeType::Email)
            .lambda_config(
                LambdaConfigType::builder()
                    .custom_message(CUSTOM_MESSAGE)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let pool = pool.user_pool().unwrap();
        let secret_arn = create_secret(
            region(),
            &format!("{name}/app"),
            &serde_json::json!({
                "username": "cruddur_app",
                "password": SECRET_PASSWORD,
                "host": "db.internal",
                "port": 5432,
                "dbname": "cruddur"
            })
            .to_string(),
        );
        Self {
            name: name.to_owned(),
            iam: aws_sdk_iam::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            ec2,
            cognito,
            vpc,
            subnets,
            db_group,
            pool_id: pool.id().unwrap().to_owned(),
            pool_arn: pool.arn().unwrap().to_owned(),
            secret_arn,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A package whose `bootstrap` is an x86-64 ELF header followed by `version`.
    fn package(&self, version: &str) -> PathBuf {
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        elf.resize(18, 0);
        elf.extend_from_slice(&62_u16.to_le_bytes());
        elf.resize(64, 0);
        elf.extend_from_slice(version.as_bytes());
        let path = self.dir.path().join(format!("{version}.zip"));
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        writer
            .start_file(
                "bootstrap",
                zip::write::SimpleFileOptions::default().unix_permissions(0o755),
            )
            .unwrap();
        writer.write_all(&elf).unwrap();
        writer.finish().unwrap();
        path
    }

    /// `cruddur lambda deploy` of `zip` with the stage's pool, subnets, groups and secret.
    fn deploy(&self, zip: &PathBuf, extra: &[&str]) -> assert_cmd::assert::Assert {
        let subnets = self.subnets.join(",");
        cruddur_aws(region())
            .args(["lambda", "deploy", "--function-name", &self.name])
            .args(["--user-pool-id", &self.pool_id, "--subnets", &subnets])
            .args(["--db-security-group", &self.db_group])
            .args(["--secret", &self.secret_arn])
            .arg("--zip")
            .arg(zip)
            .args(extra)
            .assert()
    }

    fn command(&self, verb: &str) -> assert_cmd::Command {
        let mut command = cruddur_aws(region());
        command.args(["lambda", verb, "--function-name", &self.name]);
        command
    }

    async fn function(&self) -> Option<aws_sdk_lambda::types::FunctionConfiguration> {
        match self
            .lambda
            .get_function_configuration()
            .function_name(&self.name)
            .send()
            .await
        {
            Ok(config) => Some(
                aws_sdk_lambda::types::FunctionConfiguration::builder()
                    .set_function_arn(config.function_arn().map(str::to_owned))
                    .set_code_sha256(config.code_sha256().map(str::to_owned))
                    .set_role(config.role().map(str::to_owned))
                    .set_timeout(config.timeout())
                    .set_memory_size(config.memory_size())
                    .set_environment(config.environment().cloned())
                    .set_vpc_config(config.vpc_config().cloned())
                    .set_architectures(Some(config.architectures().to_vec()))
                    .set_runtime(config.runtime().cloned())
                    .set_handler(config.handler().map(str::to_owned))
                    .build(),
            ),
            Err(e) => {
                assert_eq!(
                    aws_sdk_lambda::error::ProvideErrorMetadata::code(&e),
                    Some("ResourceNotFoundException"),
                    "{e:?}"
                );
                None
            }
        }
    }

    async fn functions_named(&self) -> usize {
        self.lambda
            .list_functions()
            .send()
            .await
            .unwrap()
            .functions()
            .iter()
            .filter(|f| f.function_name() == Some(self.name.as_str()))
            .count()
    }

    async fn roles_named(&self) -> usize {
        self.iam
            .list_roles()
            .send()
            .await
            .unwrap()
            .roles()
            .iter()
            .filter(|r| r.role_name() == self.name)
            .count()
    }

    /// Security groups deploy made for this function.
    async fn own_groups(&self) -> Vec<String> {
        self.ec2
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name("tag:cruddur:lambda")
                    .values(&self.name)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .security_groups()
            .iter()
            .map(|g| g.group_id().unwrap().to_owned())
            .collect()
    }

    /// The database group's inbound rules, as (source group, from port, to port).
    async fn db_rules(&self) -> Vec<(Option<String>, Option<i32>, Option<i32>)> {
        self.ec2
            .describe_security_group_rules()
            .filters(
                Filter::builder()
                    .name("group-id")
                    .values(&self.db_group)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .security_group_rules()
            .iter()
            .filter(|r| r.is_egress() == Some(false))
            .map(|r| {
                (
                    r.referenced_group_info()
                        .and_then(|g| g.group_id())
                        .map(str::to_owned),
                    r.from_port(),
                    r.to_port(),
                )
            })
            .collect()
    }

    async fn pool(&self) -> aws_sdk_cognitoidentityprovider::types::UserPoolType {
        self.cognito
            .describe_user_pool()
            .user_pool_id(&self.pool_id)
            .send()
            .await
            .unwrap()
            .user_pool()
            .unwrap()
            .clone()
    }

    /// The function's resource policy statements.
    async fn permissions(&self) -> Vec<Value> {
        let policy = self
            .lambda
            .get_policy()
            .function_name(&self.name)
            .send()
            .await
            .unwrap();
        let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        policy["Statement"].as_array().unwrap().clone()
    }

    async fn role_policy(&self) -> Value {
        let output = self
            .iam
            .get_role_policy()
            .role_name(&self.name)
            .policy_name(&self.name)
            .send()
            .await
            .unwrap();
        let text = percent_encoding::percent_decode_str(output.policy_document())
            .decode_utf8()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// Nothing of the function exists: no function, role, group of its own or database rule.
    async fn assert_nothing_made(&self) {
        assert_eq!(self.functions_named().await, 0);
        assert_eq!(self.roles_named().await, 0);
        assert!(self.own_groups().await.is_empty());
        assert!(
            self.db_rules().await.is_empty(),
            "{:?}",
            self.db_rules().await
        );
    }
}

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8(assert.get_output().stderr.clone()).unwrap()
}

fn done_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("done: ")).collect()
}

fn sha256_of(path: &PathBuf) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn environment(config: &aws_sdk_lambda::types::FunctionConfiguration) -> HashMap<String, String> {
    config
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn deploy_twice_makes_one_of_each_wires_the_pool_and_keeps_its_other_settings() {
    let stage = Stage::new("deploy-twice").await;
    let zip = stage.package("v1");
    let first = stage.deploy(&zip, &[]).success();
    assert_eq!(
        done_lines(&stdout_of(&first)).len(),
        7,
        "{}",
        stdout_of(&first)
    );
    let again = stage.deploy(&zip, &[]).success();
    assert!(
        stdout_of(&again).contains("nothing changed") && done_lines(&stdout_of(&again)).is_empty(),
        "{}",
        stdout_of(&again)
    );

    assert_eq!(stage.functions_named().await, 1);
    assert_eq!(stage.roles_named().await, 1);
    let groups = stage.own_groups().await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(
        stage.db_rules().await,
        vec![(Some(groups[0].clone()), Some(5432), Some(5432))]
    );
    let function = stage.function().await.unwrap();
    let function_arn = function.function_arn().unwrap().to_owned();
    assert_eq!(function.code_sha256(), Some(sha256_of(&zip).as_str()));
    assert_eq!(function.timeout(), Some(5));
    assert_eq!(
        function.runtime().map(|r| r.as_str()),
        Some("provided.al2023")
    );
    assert_eq!(function.handler(), Some("bootstrap"));
    assert_eq!(
        function
            .architectures()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        ["x86_64"]
    );
    let vpc = function.vpc_config().unwrap();
    let mut subnets = vpc.subnet_ids().to_vec();
    subnets.sort();
    let mut expected_subnets = stage.subnets.clone();
    expected_subnets.sort();
    assert_eq!(subnets, expected_subnets);
    assert_eq!(vpc.security_group_ids(), groups.as_slice());
    let group_vpc = stage
        .ec2
        .describe_security_groups()
        .group_ids(&groups[0])
        .send()
        .await
        .unwrap()
        .security_groups()[0]
        .vpc_id()
        .map(str::to_owned);
    assert_eq!(group_vpc.as_deref(), Some(stage.vpc.as_str()));

    let permissions = stage.permissions().await;
    assert_eq!(permissions.len(), 1, "{permissions:?}");
    assert_eq!(
        permissions[0]["Principal"]["Service"],
        "cognito-idp.amazonaws.com"
    );
    assert_eq!(permissions[0]["Action"], "lambda:InvokeFunction");
    assert_eq!(
        permissions[0]["Condition"]["ArnLike"]["AWS:SourceArn"],
        stage.pool_arn.as_str()
    );

    let pool = stage.pool().await;
    let triggers = pool.lambda_config().unwrap();
    assert_eq!(triggers.pre_sign_up(), Some(function_arn.as_str()));
    assert_eq!(triggers.post_confirmation(), Some(function_arn.as_str()));
    assert_eq!(triggers.custom_message(), Some(CUSTOM_MESSAGE));
    let password = pool.policies().unwrap().password_policy().unwrap();
    assert_eq!(password.minimum_length(), Some(14));
    assert!(!password.require_symbols());
    assert_eq!(
        pool.auto_verified_attributes(),
        [VerifiedAttributeType::Email]
    );

    let status = stage.command("status").assert().success();
    let text = stdout_of(&status);
    assert!(!text.contains("FAIL"), "{text}");
    assert!(text.contains("deployed and wired"), "{text}");
    assert!(text.contains(&sha256_of(&zip)), "{text}");
    assert!(
        text.contains("environment  DB_AUTH, DB_SECRET_ARN"),
        "{text}"
    );
}

#[tokio::test]
async fn new_code_updates_only_the_code() {
    let stage = Stage::new("new-code").await;
    stage.deploy(&stage.package("v1"), &[]).success();
    let before = stage.function().await.unwrap();
    let v2 = stage.package("v2");
    let second = stage.deploy(&v2, &[]).success();
    let out = stdout_of(&second);
    let done = done_lines(&out);
    assert_eq!(done.len(), 1, "{out}");
    assert!(
        done[0].starts_with("done: update the function's code"),
        "{out}"
    );
    let after = stage.function().await.unwrap();
    assert_eq!(after.code_sha256(), Some(sha256_of(&v2).as_str()));
    assert_ne!(after.code_sha256(), before.code_sha256());
    assert_eq!(environment(&after), environment(&before));
    assert_eq!(after.role(), before.role());
    assert_eq!(after.vpc_config(), before.vpc_config());
    assert_eq!(stage.functions_named().await, 1);
}

#[tokio::test]
async fn the_role_reads_exactly_the_secret_and_the_function_holds_no_password() {
    let stage = Stage::new("least-privilege").await;
    stage.deploy(&stage.package("v1"), &[]).success();

    let policy = stage.role_policy().await;
    let statements = policy["Statement"].as_array().unwrap();
    let secret_statements: Vec<&Value> = statements
        .iter()
        .filter(|s| s.to_string().contains("secretsmanager"))
        .collect();
    assert_eq!(secret_statements.len(), 1, "{policy}");
    assert_eq!(
        secret_statements[0]["Action"],
        "secretsmanager:GetSecretValue"
    );
    assert_eq!(secret_statements[0]["Resource"], stage.secret_arn.as_str());
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow");
        let actions = match &statement["Action"] {
            Value::String(one) => vec![one.clone()],
            many => many
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_owned())
                .collect(),
        };
        assert!(actions.iter().all(|a| !a.contains('*')), "{statement}");
        // Only the two describe calls Lambda's VPC attachment needs apply to every resource.
        if statement["Resource"] == "*" {
            assert_eq!(
                actions,
                ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"]
            );
        }
    }
    let trust = stage
        .iam
        .get_role()
        .role_name(&stage.name)
        .send()
        .await
        .unwrap();
    let trust = percent_encoding::percent_decode_str(
        trust.role().unwrap().assume_role_policy_document().unwrap(),
    )
    .decode_utf8()
    .unwrap()
    .into_owned();
    let trust: Value = serde_json::from_str(&trust).unwrap();
    assert_eq!(
        trust["Statement"][0]["Principal"],
        serde_json::json!({"Service": "lambda.amazonaws.com"})
    );

    let function = stage.function().await.unwrap();
    let env = environment(&function);
    assert_eq!(
        env,
        HashMap::from([
            ("DB_AUTH".to_owned(), "secret".to_owned()),
            ("DB_SECRET_ARN".to_owned(), stage.secret_arn.clone()),
        ])
    );
    let whole = format!("{function:?}");
    assert!(!whole.contains(SECRET_PASSWORD), "{whole}");

    // A URL with a password for the function is refused before anything changes.
    let refused = stage
        .deploy(
            &stage.package("v1"),
            &[
                "--db-url",
                "postgres://cruddur_app:hunter2@db.internal:5432/cruddur",
            ],
        )
        .failure();
    let err = stderr_of(&refused);
    assert!(
        err.contains("holds a password") && !err.contains("hunter2"),
        "{err}"
    );
    assert_eq!(environment(&stage.function().await.unwrap()), env);
}

#[tokio::test]
async fn iam_logins_are_granted_for_one_user_and_a_given_group_is_used_as_it_is() {
    let stage = Stage::new("iam-login").await;
    let rds = aws_sdk_rds::Client::new(&sdk_config(region()).await);
    let instance = rds
        .create_db_instance()
        .db_instance_identifier("iam-login-db")
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("cruddurroot")
        .master_user_password("s3cret-master-pw")
        .allocated_storage(20)
        .send()
        .await
        .unwrap();
    let instance = instance.db_instance().unwrap();
    let endpoint = instance.endpoint().unwrap().address().unwrap().to_owned();
    let resource_id = instance.dbi_resource_id().unwrap().to_owned();
    let given = stage
        .ec2
        .create_security_group()
        .group_name("iam-login-app")
        .description("the operator's")
        .vpc_id(&stage.vpc)
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_owned();
    let url = format!("postgres://cruddur_app@{endpoint}:5432/cruddur?sslmode=verify-full");
    let subnets = stage.subnets.join(",");
    cruddur_aws(region())
        .args(["lambda", "deploy", "--function-name", &stage.name])
        .args(["--user-pool-id", &stage.pool_id, "--subnets", &subnets])
        .args([
            "--db-security-group",
            &stage.db_group,
            "--security-group",
            &given,
        ])
        .args(["--iam", "--db-url", &url, "--db-pooler", "transaction"])
        .arg("--zip")
        .arg(stage.package("v1"))
        .assert()
        .success();

    let policy = stage.role_policy().await;
    let db_statement = policy["Statement"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(db_statement["Action"], "rds-db:connect");
    let account = stage.pool_arn.split(':').nth(4).unwrap();
    assert_eq!(
        db_statement["Resource"],
        format!(
            "arn:aws:rds-db:{}:{account}:dbuser:{resource_id}/cruddur_app",
            region()
        )
    );
    assert!(!policy.to_string().contains("secretsmanager"), "{policy}");
    let function = stage.function().await.unwrap();
    assert_eq!(
        environment(&function),
        HashMap::from([
            ("DB_AUTH".to_owned(), "iam".to_owned()),
            ("CONNECTION_URL".to_owned(), url.clone()),
            ("DB_POOLER".to_owned(), "transaction".to_owned()),
        ])
    );
    assert_eq!(
        function.vpc_config().unwrap().security_group_ids(),
        std::slice::from_ref(&given)
    );
    assert!(stage.own_groups().await.is_empty());
    assert_eq!(
        stage.db_rules().await,
        vec![(Some(given.clone()), Some(5432), Some(5432))]
    );

    // Undeploy removes the rule it made for the given group, and leaves the group.
    stage.command("undeploy").arg("--yes").assert().success();
    assert!(stage.db_rules().await.is_empty());
    let still = stage
        .ec2
        .describe_security_groups()
        .group_ids(&given)
        .send()
        .await
        .unwrap();
    assert_eq!(still.security_groups().len(), 1);
}

#[tokio::test]
async fn undeploy_removes_what_deploy_made_and_leaves_the_pool_and_its_other_triggers() {
    let stage = Stage::new("undeploy").await;
    stage.deploy(&stage.package("v1"), &[]).success();

    let unconfirmed = stage.command("undeploy").assert().failure();
    let listed = stdout_of(&unconfirmed);
    assert_eq!(
        listed.lines().filter(|l| l.starts_with("would: ")).count(),
        5,
        "{listed}"
    );
    assert!(stderr_of(&unconfirmed).contains("--yes"));
    assert_eq!(stage.functions_named().await, 1);

    let removed = stage.command("undeploy").arg("--yes").assert().success();
    assert_eq!(
        done_lines(&stdout_of(&removed)).len(),
        5,
        "{}",
        stdout_of(&removed)
    );
    stage.assert_nothing_made().await;
    let pool = stage.pool().await;
    let triggers = pool.lambda_config().unwrap();
    assert_eq!(triggers.pre_sign_up(), None);
    assert_eq!(triggers.post_confirmation(), None);
    assert_eq!(triggers.custom_message(), Some(CUSTOM_MESSAGE));
    assert_eq!(
        pool.policies()
            .unwrap()
            .password_policy()
            .unwrap()
            .minimum_length(),
        Some(14)
    );
    let db_group = stage
        .ec2
        .describe_security_groups()
        .group_ids(&stage.db_group)
        .send()
        .await
        .unwrap();
    assert_eq!(db_group.security_groups().len(), 1);

    stage
        .command("undeploy")
        .args(["--user-pool-id", &stage.pool_id, "--yes"])
        .assert()
        .success()
        .stdout(predicates::str::contains("nothing to do"));
    let gone = stage.command("status").assert().failure();
    assert!(
        stderr_of(&gone).contains("not found"),
        "{}",
        stderr_of(&gone)
    );
}

#[tokio::test]
async fn status_names_what_is_no_longer_wired_and_deploy_puts_it_back() {
    let stage = Stage::new("drift").await;
    let zip = stage.package("v1");
    stage.deploy(&zip, &[]).success();
    let group = stage.own_groups().await.remove(0);
    // By rule id: moto revokes a group's rule only that way.
    let rule_ids: Vec<String> = stage
        .ec2
        .describe_security_group_rules()
        .filters(
            Filter::builder()
                .name("group-id")
                .values(&stage.db_group)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| r.security_group_rule_id().unwrap().to_owned())
        .collect();
    assert_eq!(rule_ids.len(), 1);
    stage
        .ec2
        .revoke_security_group_ingress()
        .group_id(&stage.db_group)
        .set_security_group_rule_ids(Some(rule_ids))
        .send()
        .await
        .unwrap();
    stage
        .cognito
        .update_user_pool()
        .user_pool_id(&stage.pool_id)
        .send()
        .await
        .unwrap();

    let drifted = stage.command("status").assert().failure();
    let out = stdout_of(&drifted);
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 3, "{out}");
    assert!(
        failed
            .iter()
            .any(|l| l.contains("PreSignUp trigger is not")),
        "{out}"
    );
    assert!(
        failed
            .iter()
            .any(|l| l.contains("PostConfirmation trigger is not")),
        "{out}"
    );
    assert!(
        failed
            .iter()
            .any(|l| l.contains(&format!("does not admit {group}"))),
        "{out}"
    );

    let repaired = stage.deploy(&zip, &[]).success();
    let out = stdout_of(&repaired);
    assert_eq!(done_lines(&out).len(), 2, "{out}");
    stage.command("status").assert().success();
}

#[tokio::test]
async fn dry_run_prints_every_change_and_makes_none() {
    let stage = Stage::new("dry-run").await;
    let dry = stage.deploy(&stage.package("v1"), &["--dry-run"]).success();
    let out = stdout_of(&dry);
    let would: Vec<&str> = out.lines().filter(|l| l.starts_with("would: ")).collect();
    assert_eq!(would.len(), 7, "{out}");
    for expected in [
        "create security group",
        "create IAM role",
        &format!("secretsmanager:GetSecretValue on {}", stage.secret_arn),
        "create function",
        "on tcp 5432",
        &format!("for {} only", stage.pool_arn),
        "PreSignUp and PostConfirmation",
    ] {
        assert!(
            would.iter().any(|l| l.contains(expected)),
            "{expected}: {out}"
        );
    }
    assert!(out.contains("keep its CustomMessage"), "{out}");
    stage.assert_nothing_made().await;
    assert_eq!(
        stage.pool().await.lambda_config().unwrap().pre_sign_up(),
        None
    );
}

/// Pool, subnets, database group, the function's group, login flags, what the error says.
type RefusedCase<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Option<&'a str>,
    &'a [&'a str],
    &'a str,
);

#[tokio::test]
async fn a_missing_pool_subnet_group_or_secret_stops_deploy_before_anything_is_made() {
    let stage = Stage::new("refused").await;
    let zip = stage.package("v1");
    let subnets = stage.subnets.join(",");
    let secret = ["--secret", stage.secret_arn.as_str()];
    let iam = [
        "--iam",
        "--db-url",
        "postgres://cruddur_app@nowhere.example:5432/cruddur?sslmode=verify-full",
    ];
    let cases: [RefusedCase<'_>; 6] = [
        (
            "us-east-1_Missing0",
            &subnets,
            &stage.db_group,
            None,
            &secret,
            "user pool us-east-1_Missing0 not found",
        ),
        (
            &stage.pool_id,
            "subnet-0000000000000dead",
            &stage.db_group,
            None,
            &secret,
            "subnet not found",
        ),
        (
            &stage.pool_id,
            &subnets,
            "sg-0000000000000dead",
            None,
            &secret,
            "security group not found",
        ),
        (
            &stage.pool_id,
            &subnets,
            &stage.db_group,
            Some("sg-0000000000000beef"),
            &secret,
            "security group not found",
        ),
        (
            &stage.pool_id,
            &subnets,
            &stage.db_group,
            None,
            &["--secret", "refused/missing"],
            "secret refused/missing not found",
        ),
        (
            &stage.pool_id,
            &subnets,
            &stage.db_group,
            None,
            &iam,
            "no RDS instance has the endpoint nowhere.example",
        ),
    ];
    for (pool, subnets, db_group, group, login, expected) in cases {
        let mut args = vec![
            "--user-pool-id",
            pool,
            "--subnets",
            subnets,
            "--db-security-group",
            db_group,
        ];
        if let Some(group) = group {
            args.extend(["--security-group", group]);
        }
        args.extend(login);
        let refused = cruddur_aws(region())
            .args(["lambda", "deploy", "--function-name", &stage.name])
            .args(&args)
            .arg("--zip")
            .arg(&zip)
            .assert()
            .failure();
        let err = stderr_of(&refused);
        // The harness points the SDK's config files at nothing, which it warns about.
        let said: Vec<&str> = err
            .lines()
            .filter(|l| !l.contains("aws_runtime::env_config"))
            .collect();
        assert_eq!(said.len(), 1, "{expected}: {err}");
        assert!(err.contains(expected), "{expected}: {err}");
        stage.assert_nothing_made().await;
    }
    assert_eq!(
        stage.pool().await.lambda_config().unwrap().pre_sign_up(),
        None
    );

    // A role of that name that deploy did not make is not taken over.
    stage
        .iam
        .create_role()
        .role_name(&stage.name)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    let taken = stage.deploy(&zip, &[]).failure();
    assert!(
        stderr_of(&taken).contains("was not made by `cruddur lambda deploy`"),
        "{}",
        stderr_of(&taken)
    );
    assert_eq!(stage.functions_named().await, 0);
    assert!(stage.own_groups().await.is_empty());
}
