"""Prints botocore's RDS IAM authentication token for fixed credentials, endpoint, region and
time: the test vector `aws::db_credentials` is checked against (crates/aws/src/iam_token.rs).

Run with the project's venv (botocore comes with moto): .venv/bin/python crates/aws/tests/vectors/rds_auth_token.py
"""
import datetime
from unittest import mock

import botocore.auth
import botocore.session

FIXED = datetime.datetime(2024, 2, 29, 23, 59, 58)

session = botocore.session.get_session()
session.set_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
client = session.create_client("rds", region_name="eu-west-3")
with mock.patch.object(botocore.auth.datetime, "datetime") as clock:
    clock.utcnow.return_value = FIXED
    clock.now.return_value = FIXED.replace(tzinfo=datetime.timezone.utc)
    print(
        client.generate_db_auth_token(
            DBHostname="cruddur-db-instance.c9akciq32.eu-west-3.rds.amazonaws.com",
            Port=5432,
            DBUsername="cruddur_app",
            Region="eu-west-3",
        )
    )
