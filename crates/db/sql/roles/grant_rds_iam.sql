-- RDS's role for IAM token logins (it exists only on RDS).
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam')
            THEN format('GRANT rds_iam TO %I', $1::text) END
