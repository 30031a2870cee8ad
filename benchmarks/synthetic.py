"""Synthetic estates in the saved-export shapes, for the benchmarks.

Each identity has 3 credentials and 10 grants: half are IAM roles (3 Secrets Manager secrets
tagged to the role), half IAM users (2 access keys in the credential report + 1 secret). Every
50th identity holds an administrator statement. Accounts hold at most 10,000 identities each, as
an organisation would export them.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentaudit.examples import builder as b

AS_OF = datetime(2026, 11, 20, 12, tzinfo=UTC)
PER_ACCOUNT = 10_000
SERVICES = ["s3", "dynamodb", "sqs", "sns", "lambda", "kinesis", "logs", "kms", "ssm", "events"]


def _grants(account: str, index: int) -> dict[str, dict]:
    statements = []
    for g in range(10):
        service = SERVICES[(index + g) % len(SERVICES)]
        action = [f"{service}:Get*", f"{service}:Put{g}"] if g % 3 else f"{service}:List{g}"
        statements.append(b.statement(action, f"arn:aws:{service}:eu-west-1:{account}:res-{index}-{g}"))
    if index % 50 == 0:
        statements[0] = b.statement("*", "*")
    return {"app": b.policy_doc(*statements)}


def generate(root: Path, total: int) -> None:
    accounts = (total + PER_ACCOUNT - 1) // PER_ACCOUNT
    trust = b.trust_service("lambda.amazonaws.com")
    for a in range(accounts):
        account = f"{100000000000 + a:012d}"
        count = min(PER_ACCOUNT, total - a * PER_ACCOUNT)
        roles, users, report, secrets = [], [], [], []
        for i in range(count):
            created = AS_OF - timedelta(days=30 + (i % 700))
            tags = {"identity-owner": f"owner{i % 300}@example.com"}
            if i % 2 == 0:
                name = f"role-{a}-{i}"
                roles.append(
                    b.role(account, name, created, trust, inline=_grants(account, i), tags=tags,
                           last_used=AS_OF - timedelta(days=i % 200), role_id=f"AROA{a:04d}{i:012d}")
                )  # fmt: skip
                owned = 3
            else:
                name = f"user-{a}-{i}"
                users.append(b.user(account, name, created, inline=_grants(account, i), tags=tags))
                keys = [(True, AS_OF - timedelta(days=i % 500), AS_OF - timedelta(days=i % 120))] * 2
                report.append(b.report_row(account, name, created, keys))
                owned = 1
            for s in range(owned):
                secrets.append(
                    b.secret(account, f"app/{name}/s{s}", created, rotation=30 if i % 4 else None,
                             last_rotated=AS_OF - timedelta(days=i % 60), tags={"agent-identity": name})
                )  # fmt: skip
        folder = root / "aws" / account
        b.write(folder / "iam.json", b.authorization_details(users, roles, []))
        b.write(folder / "report.json", b.credential_report(report, AS_OF))
        b.write(folder / "secrets.json", {"SecretList": secrets})


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def estate_parser(
    description: str, keep: str = "keep the generated estate and store in this folder"
) -> argparse.ArgumentParser:
    """The options every benchmark on a synthetic estate takes: its size, and a folder to keep it in."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help=keep)
    return parser


def estate_folder(args: argparse.Namespace, prefix: str) -> tuple[Path, Path, float]:
    """The work folder (--keep, else a new temporary one) and its estate, generated unless it is
    there already (a kept estate is reused). Returns (work, estate, seconds spent generating)."""
    work = args.keep or Path(tempfile.mkdtemp(prefix=prefix))
    estate = work / "estate"
    started = time.perf_counter()
    if not estate.exists():
        generate(estate, args.identities)
    return work, estate, time.perf_counter() - started


def prepare(description: str, prefix: str) -> tuple[Path, Path, float]:
    """Parse --identities/--keep; generate the estate unless kept. Returns (work, estate, seconds)."""
    return estate_folder(estate_parser(description).parse_args(), prefix)
