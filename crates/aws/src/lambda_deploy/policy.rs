//! The function's IAM role: who may assume it, and the one inline policy giving it exactly what
//! the handler needs — its own log group, the network interfaces Lambda makes in the database's
//! subnets, and the database login (one secret, or `rds-db:connect` as one user). The same
//! document, with placeholders, is `deploy/lambda/iam-policy.json`.

use serde_json::{json, Value};

/// The principal Lambda assumes the role as.
pub const LAMBDA_SERVICE: &str = "lambda.amazonaws.com";

/// How the function logs in to the database, as the policy grants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbGrant {
    /// `secretsmanager:GetSecretValue` on this secret's full ARN.
    Secret { arn: String },
    /// `rds-db:connect` as `user` on the instance with this `DbiResourceId`.
    IamUser { resource_id: String, user: String },
}

impl std::fmt::Display for DbGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret { arn } => write!(f, "secretsmanager:GetSecretValue on {arn}"),
            Self::IamUser { resource_id, user } => {
                write!(f, "rds-db:connect as {user} on {resource_id}")
            }
        }
    }
}

/// Where the function lives: everything its policy's ARNs are made of.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub function_name: &'a str,
    pub subnets: &'a [String],
    pub security_group: &'a str,
}

/// The trust policy: only the Lambda service may assume the role.
pub fn trust_document() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": LAMBDA_SERVICE},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// The role's inline policy.
pub fn policy_document(scope: &Scope<'_>, db: &DbGrant) -> Value {
    let Scope {
        partition,
        region,
        account,
        function_name,
        ..
    } = scope;
    let log_group =
        format!("arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/{function_name}");
    let mut interface_resources = vec![format!(
        "arn:{partition}:ec2:{region}:{account}:network-interface/*"
    )];
    interface_resources.extend(
        scope
            .subnets
            .iter()
            .map(|subnet| format!("arn:{partition}:ec2:{region}:{account}:subnet/{subnet}")),
    );
    interface_resources.push(format!(
        "arn:{partition}:ec2:{region}:{account}:security-group/{}",
        scope.security_group
    ));
    let db_statement = match db {
        DbGrant::Secret { arn } => json!({
            "Sid": "ReadTheDatabaseSecretOnly",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": arn
        }),
        DbGrant::IamUser { resource_id, user } => json!({
            "Sid": "LogInAsTheDatabaseUserOnly",
            "Effect": "Allow",
            "Action": "rds-db:connect",
            "Resource": format!("arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{user}")
        }),
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CreateOwnLogGroup",
                "Effect": "Allow",
                "Action": "logs:CreateLogGroup",
                "Resource": format!("{log_group}:*")
            },
            {
                "Sid": "WriteOwnLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": format!("{log_group}:log-stream:*")
            },
            {
                "Sid": "DescribeForVpcAttachment",
                "Effect": "Allow",
                "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                "Resource": "*"
            },
            {
                "Sid": "CreateInterfacesInTheDatabaseSubnetsOnly",
                "Effect": "Allow",
                "Action": "ec2:CreateNetworkInterface",
                "Resource": interface_resources
            },
            {
                "Sid": "ManageOwnInterfaces",
                "Effect": "Allow",
                "Action": [
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses"
                ],
                "Resource": format!("arn:{partition}:ec2:{region}:{account}:network-interface/*")
            },
            db_statement
        ]
    })
}

/// A document as IAM returns it (`GetRolePolicy`, `GetRole`: URL-encoded JSON).
pub fn decode_document(encoded: &str) -> Option<Value> {
    let text = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_policy_is_the_one_deploy_puts() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/lambda/iam-policy.json"
        );
        let documented: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let subnets = ["SUBNET_ID_A".to_owned(), "SUBNET_ID_B".to_owned()];
        let scope = Scope {
            partition: "aws",
            region: "REGION",
            account: "ACCOUNT_ID",
            function_name: "cruddur-post-confirmation",
            subnets: &subnets,
            security_group: "LAMBDA_SG_ID",
        };
        let generated = policy_document(
            &scope,
            &DbGrant::Secret {
                arn: "DB_SECRET_ARN".into(),
            },
        );
        assert_eq!(generated, documented);
    }

    #[test]
    fn an_iam_login_is_granted_for_one_user_of_one_instance() {
        let subnets = ["subnet-1".to_owned()];
        let scope = Scope {
            partition: "aws-cn",
            region: "cn-north-1",
            account: "111122223333",
            function_name: "f",
            subnets: &subnets,
            security_group: "sg-1",
        };
        let document = policy_document(
            &scope,
            &DbGrant::IamUser {
                resource_id: "db-ABC".into(),
                user: "cruddur_app".into(),
            },
        );
        let last = document["Statement"].as_array().unwrap().last().unwrap();
        assert_eq!(last["Action"], "rds-db:connect");
        assert_eq!(
            last["Resource"],
            "arn:aws-cn:rds-db:cn-north-1:111122223333:dbuser:db-ABC/cruddur_app"
        );
    }

    #[test]
    fn iam_documents_are_read_back_from_their_url_encoding() {
        let encoded = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%5D%7D";
        assert_eq!(
            decode_document(encoded).unwrap(),
            json!({"Version": "2012-10-17", "Statement": []})
        );
        assert!(decode_document("%7Bnot json").is_none());
    }
}
