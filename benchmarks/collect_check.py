"""Benchmark: collect + check on a synthetic estate of N identities in the saved-export shapes.

Each identity has 3 credentials and 10 grants: half are IAM roles (3 Secrets Manager secrets
tagged to the role), half IAM users (2 access keys in the credential report + 1 secret). The estate
is split into accounts of at most 10,000 identities, as an organisation would export it.

    python benchmarks/collect_check.py --identities 10000 [--keep DIR]

Prints generation time (not counted), collect and check seconds, identities/s and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agentaudit import pipeline
from agentaudit.config import load_config
from agentaudit.examples import builder as b
from agentaudit.model.store import Store

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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--identities", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="keep the generated estate and store in this folder")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="agentaudit-bench-"))
    estate = work / "estate"
    started = time.perf_counter()
    if not estate.exists():
        generate(estate, args.identities)
    generated = time.perf_counter() - started
    size = sum(p.stat().st_size for p in estate.rglob("*.json")) / 2**20
    rss_before = peak_rss_mb()
    store = Store(f"sqlite:///{work / 'bench.db'}")
    config = load_config()
    t0 = time.perf_counter()
    collected = pipeline.collect(estate, store, config)
    t1 = time.perf_counter()
    result = pipeline.check(store, config, AS_OF, collected.snapshot_id)
    t2 = time.perf_counter()
    folder = pipeline.write_results(result, store, work / "out")
    t3 = time.perf_counter()
    n = collected.counts["identities"]
    figures = {
        "identities": n,
        "credentials": collected.counts["credentials"],
        "grants": collected.counts["grants"],
        "findings": len(result.evaluation.findings),
        "export_mb": round(size, 1),
        "generate_s": round(generated, 1),
        "collect_s": round(t1 - t0, 2),
        "check_s": round(t2 - t1, 2),
        "collect_check_s": round(t2 - t0, 2),
        "identities_per_s": round(n / (t2 - t0)),
        "write_results_s": round(t3 - t2, 2),
        "peak_rss_mb": round(peak_rss_mb()),
        "peak_rss_mb_before_collect": round(rss_before),
        "result_folder": str(folder),
    }
    json.dump(figures, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
