"""Benchmark: live AWS collection against moto's standalone server.

Seeds moto (sequentially: parallel writes can crash moto's IAM) with N roles, N/10 users with an
access key each and N/10 secrets, then runs the live collector and prints API calls (IAM and all),
calls per identity, wall time and peak RSS. `--accounts 3` spreads the roles over an organisation
of three accounts and collects it with --org.

    scripts/services.sh start            # moto on 127.0.0.1:54330
    python benchmarks/aws_collect.py --roles 10000 [--accounts 3] [--regions eu-west-1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.request

import boto3
from synthetic import peak_rss_mb

from agentaudit.collectors.aws_live import AwsCollector
from agentaudit.collectors.aws_live_calls import AwsOptions

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "sqs:SendMessage"], "Resource": "*"}],
    }
)


def _session_for(account: str | None) -> boto3.Session:
    if account is None:
        return boto3.Session()
    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", RoleSessionName="seed"
    )["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def seed(session: boto3.Session, prefix: str, roles: int) -> None:
    iam = session.client("iam")
    secrets = session.client("secretsmanager")
    for n in range(roles):
        iam.create_role(RoleName=f"{prefix}-r{n}", AssumeRolePolicyDocument=TRUST)
        iam.put_role_policy(RoleName=f"{prefix}-r{n}", PolicyName="app", PolicyDocument=POLICY)
        if n % 10 == 0:
            iam.create_user(UserName=f"{prefix}-u{n}")
            iam.create_access_key(UserName=f"{prefix}-u{n}")
            secrets.create_secret(Name=f"{prefix}/s{n}", SecretString="x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roles", type=int, default=10_000)
    parser.add_argument("--accounts", type=int, default=1)
    parser.add_argument("--regions", default="", help="comma-separated; default every enabled region")
    parser.add_argument("--endpoint", default=os.environ.get("AGENTAUDIT_TEST_MOTO_URL", "http://127.0.0.1:54330"))
    args = parser.parse_args()
    os.environ.update(
        AWS_ENDPOINT_URL=args.endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="eu-west-1",
    )
    urllib.request.urlopen(urllib.request.Request(f"{args.endpoint}/moto-api/reset", method="POST"))
    started = time.perf_counter()
    members: list[str] = []
    if args.accounts > 1:
        org = boto3.client("organizations")
        org.create_organization(FeatureSet="ALL")
        for n in range(args.accounts - 1):
            status = org.create_account(Email=f"m{n}@example.com", AccountName=f"m{n}")["CreateAccountStatus"]
            members.append(
                org.describe_create_account_status(CreateAccountRequestId=status["Id"])["CreateAccountStatus"][
                    "AccountId"
                ]
            )
    per_account = args.roles // args.accounts
    for index, account in enumerate([None, *members]):
        seed(_session_for(account), f"a{index}", per_account)
    seeded = time.perf_counter() - started
    regions = [r for r in args.regions.split(",") if r]
    collector = AwsCollector(AwsOptions(org=bool(members), regions=regions, max_workers=4))
    t0 = time.perf_counter()
    out = collector.collect()
    wall = time.perf_counter() - t0
    calls = collector.counter.operations
    iam_calls = sum(v for k, v in calls.items() if k.startswith("iam:"))
    iam_identities = sum(1 for i in out.identities if i.kind in ("aws_iam_role", "aws_iam_user"))
    total = sum(calls.values())
    figures = {
        "accounts": args.accounts,
        "identities": len(out.identities),
        "iam_identities": iam_identities,
        "credentials": len(out.credentials),
        "seed_s": round(seeded, 1),
        "collect_s": round(wall, 2),
        "api_calls_total": total,
        "api_calls_iam": iam_calls,
        "iam_calls_per_iam_identity": round(iam_calls / max(1, iam_identities), 4),
        "calls_per_identity": round(total / max(1, len(out.identities)), 4),
        "failed_sources": [s.name for s in out.sources if s.status != "complete"],
        "peak_rss_mb": round(peak_rss_mb()),
        "calls_by_operation": dict(sorted(calls.items())),
    }
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
