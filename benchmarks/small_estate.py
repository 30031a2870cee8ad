"""Benchmark: a small estate feels instant — `agentaudit run --aws` against moto, start to signed pack.

Seeds moto's standalone server (AGENTAUDIT_TEST_MOTO_URL, `scripts/services.sh start`) with one
account of about 60 agent resources — Bedrock-trusted roles with inline policies, service users with
access keys, secrets, Bedrock agents and a trail — then runs the CLI as a user does (a child
process) and prints its wall and CPU seconds (the CLI and its forked workers), the load average
before and after, and the time to import agentaudit.cli.

Moto answers three operations it does not implement (AgentCore workload identities and credential
providers, Bedrock action groups) with HTTP 500, which botocore retries with backoff (25–45 s each
with the default 8 attempts, side by side): `--attempts 1` (AWS_MAX_ATTEMPTS) leaves that wait out
and times agentaudit itself.

    python benchmarks/small_estate.py [--regions eu-west-1] [--runs 3] [--attempts 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import boto3

REGION = "eu-west-1"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "bedrock.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}


def seed(roles: int = 30, users: int = 10, secrets: int = 10, agents: int = 5) -> int:
    """One account's agent resources; returns how many were made."""
    session = boto3.Session(region_name=REGION)
    iam = session.client("iam")
    account = session.client("sts").get_caller_identity()["Account"]
    for n in range(roles):
        iam.create_role(RoleName=f"agent-role-{n}", AssumeRolePolicyDocument=json.dumps(TRUST),
                        Tags=[{"Key": "identity-owner", "Value": f"owner{n % 4}@example.com"}])  # fmt: skip
        iam.put_role_policy(RoleName=f"agent-role-{n}", PolicyName="app", PolicyDocument=json.dumps(POLICY))
    for n in range(users):
        iam.create_user(UserName=f"svc-{n}")
        iam.create_access_key(UserName=f"svc-{n}")
    store = session.client("secretsmanager")
    for n in range(secrets):
        tags = [{"Key": "agent-identity", "Value": f"svc-{n}"}]
        store.create_secret(Name=f"agents/s{n}", SecretString="never-read", Tags=tags)
    bedrock = session.client("bedrock-agent")
    for n in range(agents):
        bedrock.create_agent(agentName=f"agent-{n}", agentResourceRoleArn=f"arn:aws:iam::{account}:role/agent-role-{n}",
                             foundationModel="anthropic.claude-v2", description="answers questions")  # fmt: skip
    s3 = session.client("s3")
    s3.create_bucket(Bucket=f"trail-{account}", CreateBucketConfiguration={"LocationConstraint": REGION})
    trail = session.client("cloudtrail")
    trail.create_trail(Name="audit", S3BucketName=f"trail-{account}", IsMultiRegionTrail=True)
    trail.start_logging(Name="audit")
    return roles + users * 2 + secrets + agents + 1


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", default=REGION)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--endpoint", default=os.environ.get("AGENTAUDIT_TEST_MOTO_URL", "http://127.0.0.1:54330"))
    parser.add_argument("--attempts", type=int, default=None, help="AWS_MAX_ATTEMPTS for the run (default: 8)")
    args = parser.parse_args()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": args.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    env.pop("AWS_PROFILE", None)
    if args.attempts is not None:
        env["AWS_MAX_ATTEMPTS"] = str(args.attempts)
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    urllib.request.urlopen(urllib.request.Request(f"{args.endpoint}/moto-api/reset", method="POST"))
    resources = seed()
    work = Path(tempfile.mkdtemp(prefix="agentaudit-small-"))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import agentaudit.cli"], check=True, env=env)
    import_s = time.perf_counter() - started
    walls, cpus = [], []
    load_before = os.getloadavg()[0]
    for n in range(args.runs):
        command = [sys.executable, "-m", "agentaudit", "run", "--aws", "--regions", args.regions,
                   "--out", str(work / f"out{n}"), "--store", f"sqlite:///{work / f's{n}.db'}"]  # fmt: skip
        before = _children_cpu()
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        walls.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - before)  # the CLI and the forked workers it waited for
        if done.returncode not in (0, 1):
            sys.stderr.write(done.stderr)
            return done.returncode
    figures = {
        "resources_seeded": resources,
        "regions": args.regions,
        "aws_max_attempts": env.get("AWS_MAX_ATTEMPTS", "8 (default)"),
        "run_wall_s": [round(w, 2) for w in walls],
        "run_cpu_s": [round(c, 2) for c in cpus],
        "best_s": round(min(walls), 2),
        "python_import_agentaudit_cli_s": round(import_s, 2),
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "pack_folder": done.stdout.strip().splitlines()[-1],
    }
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
