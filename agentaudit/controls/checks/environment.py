"""ACC-009 (OWASP NHI8): one identity used in both production and non-production.

An identity "touches" the accounts/subscriptions it lives in, those named in the resources it
is granted (ARN account fields, Azure role-assignment scopes), and those whose principals may
assume it (trust policy). Grants on "*" name no account and so cannot show a crossing here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pandas as pd

from agentaudit.controls.checks._util import FAIL, NOT_APPLICABLE, PASS, evidence
from agentaudit.controls.context import Context, NotEvaluated, result
from agentaudit.controls.registry import check

ARN_ACCOUNT = re.compile(r"^arn:aws[\w-]*:[^:]*:[^:]*:(\d{12})(?::|$)")
SUBSCRIPTION = re.compile(r"^/subscriptions/([0-9a-f-]{36})(?:/|$)", re.IGNORECASE)
ENVIRONMENTS = ("production", "non_production")


def _account_of(reference: str) -> str | None:
    """The AWS account or Azure subscription a resource ARN, scope or principal names."""
    if reference.isdigit() and len(reference) == 12:
        return reference
    match = ARN_ACCOUNT.match(reference) or SUBSCRIPTION.match(reference)
    return match.group(1).lower() if match else None


def _touched(ctx: Context) -> dict[str, dict[str, set[str]]]:
    """identity uid → account → how it is touched (home, grant, trust)."""
    touched: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    grants = ctx.grants
    for uid, effect, resources in zip(grants["identity_uid"], grants["effect"], grants["resources"], strict=True):
        if effect != "Allow":
            continue
        for resource in resources or ():
            account = _account_of(str(resource))
            if account:
                touched[uid][account].add("grant")
    for uid, trust in zip(ctx.nhis["uid"], ctx.nhis["trust"], strict=True):
        for entry in trust or ():
            if entry.get("type") == "AWS":
                account = _account_of(str(entry.get("principal", "")))
                if account:
                    touched[uid][account].add("trust")
    return touched


@check("ACC-009")
def environment_isolation(ctx: Context) -> pd.DataFrame:
    classes = {str(a).lower(): env for env in ENVIRONMENTS for a in ctx.config.data["environments"][env]}
    if not classes:
        raise NotEvaluated("no accounts classified: set environments.production and environments.non_production")
    touched = _touched(ctx)
    frame = ctx.nhis
    statuses: list[str] = []
    evidences: list[dict[str, Any]] = []
    for uid, provider, account in zip(frame["uid"], frame["provider"], frame["account"], strict=True):
        reached = touched.get(uid, {})
        if provider == "aws":
            reached = {**reached, account: {*reached.get(account, set()), "home"}}
        by_env: dict[str, list[str]] = defaultdict(list)
        for acct, how in sorted(reached.items()):
            by_env[classes.get(acct, "unclassified")].append(f"{acct} ({', '.join(sorted(how))})")
        crossing = all(by_env.get(env) for env in ENVIRONMENTS)
        statuses.append(FAIL if crossing else (PASS if set(by_env) - {"unclassified"} else NOT_APPLICABLE))
        evidences.append(dict(by_env))
    return result(frame["uid"], statuses, evidence(environments=evidences))
