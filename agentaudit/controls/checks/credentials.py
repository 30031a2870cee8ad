"""Secrets, certificates and Bedrock API keys as things with owners, policies and strength of
their own (issue 11): resource policies open to anyone, weak certificate keys, API keys held by
over-broad users, and owner / purpose tags on the credential itself."""

from __future__ import annotations

from typing import Any

import pandas as pd

from agentaudit.controls.checks._util import ERROR, FAIL, NOT_APPLICABLE, PASS, managed_by
from agentaudit.controls.context import Context, NotEvaluated, result
from agentaudit.controls.registry import check
from agentaudit.model.aws_managed import covers_service

OWNED_STORES = ("secretsmanager", "acm")
# ACM KeyAlgorithm values (botocore acm service model) at or above RSA-2048 / EC P-256.
WEAK_KEYS = frozenset({"RSA_1024"})
STRONG_KEYS = frozenset({"RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"})


def _attrs(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _live(ctx: Context) -> pd.DataFrame:
    creds = ctx.credentials
    return creds[creds["enabled"].astype(bool)]


def _tag(tags: Any, keys: list[str]) -> tuple[str | None, str | None]:
    """First non-empty tag among `keys` (case-insensitive), with the key that gave it."""
    lowered = {str(k).lower(): (str(k), str(v)) for k, v in (tags or {}).items()}
    for key in keys:
        hit = lowered.get(key)
        if hit and hit[1].strip():
            return hit[1].strip(), hit[0]
    return None, None


@check("LC-010")
def secret_policy_open(ctx: Context) -> pd.DataFrame:
    creds = _live(ctx)
    creds = creds[creds["store"] == "secretsmanager"]
    statuses: list[str] = []
    evidences: list[dict[str, Any]] = []
    for attributes in creds["attributes"]:
        attributes = _attrs(attributes)
        if "resource_policy" not in attributes:
            statuses.append(ERROR)
            evidences.append({"note": "the secret's resource policy was not read (GetResourcePolicy)"})
            continue
        open_to_anyone = list(attributes.get("open_statements") or [])
        statuses.append(FAIL if open_to_anyone else PASS)
        evidences.append({"resource_policy": attributes["resource_policy"], "open_statements": open_to_anyone})
    return result(creds["uid"], statuses, evidences)


@check("LC-011")
def certificate_key_strength(ctx: Context) -> pd.DataFrame:
    creds = _live(ctx)
    creds = creds[creds["store"] == "acm"]
    algorithms = [_attrs(a).get("key_algorithm") for a in creds["attributes"]]
    # Only documented enum values decide: anything else (absent, "RSA-2048") is unknown, not weak.
    statuses = [PASS if a in STRONG_KEYS else FAIL if a in WEAK_KEYS else ERROR for a in algorithms]
    return result(
        creds["uid"], statuses, [{"key_algorithm": a, "minimum": "RSA_2048 / EC_prime256v1"} for a in algorithms]
    )


@check("LC-012")
def api_key_holder_scope(ctx: Context) -> pd.DataFrame:
    """A Bedrock API key inherits its user's permissions: a holder allowed `bedrock:*` or `*`
    turns a leaked key into full control of Bedrock (or of the account)."""
    creds = _live(ctx)
    keys = creds[creds["type"] == "api_key"]
    grants = ctx.grants[ctx.grants["effect"].str.lower() == "allow"]
    broad: dict[str, set[str]] = {}
    for uid, actions, not_actions, source in zip(
        grants["identity_uid"], grants["actions"], grants["not_actions"], grants["source"], strict=True
    ):
        if covers_service(tuple(actions or ()), tuple(not_actions or ()), "bedrock"):
            broad.setdefault(uid, set()).add(str(source))
    known = set(ctx.identities["uid"])
    statuses, evidences = [], []
    for holder in keys["identity_uid"]:
        sources = sorted(broad.get(holder, set()))
        statuses.append(FAIL if sources else PASS if holder in known else ERROR)
        evidences.append({"holder": holder, "grants_allowing_all_of_bedrock": sources})
    return result(keys["uid"], statuses, evidences)


def _owned(ctx: Context) -> pd.DataFrame:
    creds = ctx.credentials
    return creds[creds["store"].isin(OWNED_STORES)]


def _owner_keys(ctx: Context) -> list[str]:
    tags = ctx.config.tags
    return tags["identity_owner"] + tags["business_owner"]


def _tag_check(ctx: Context, keys: list[str], field: str) -> pd.DataFrame:
    """pass/fail on a tag of the credential's own; a secret another service manages is not
    applicable: it is owned and explained with the resource that created it."""
    creds = _owned(ctx)
    statuses, evidences = [], []
    for tags, store, name, attributes in zip(
        creds["tags"], creds["store"], creds["name"], creds["attributes"], strict=True
    ):
        managed = managed_by(store, name, attributes)
        value, key = _tag(tags, keys)
        if managed and not value:
            statuses.append(NOT_APPLICABLE)
            evidences.append({field: None, "managed_by": managed, "note": "managed by the service that created it"})
            continue
        statuses.append(PASS if value else FAIL)
        value = value.lower() if value and field == "owner" else value
        evidences.append({field: value, "tag": key, "store": store} if field == "owner" else {field: value, "tag": key})
    return result(creds["uid"], statuses, evidences)


@check("OWN-005")
def credential_owner(ctx: Context) -> pd.DataFrame:
    return _tag_check(ctx, _owner_keys(ctx), "owner")


@check("OWN-006")
def credential_owner_current(ctx: Context) -> pd.DataFrame:
    if ctx.people.empty:
        raise NotEvaluated("no HR roster was supplied (--roster)")
    status = dict(zip(ctx.people["email"], ctx.people["status"], strict=True))
    creds = _owned(ctx)
    owners = [_tag(t, _owner_keys(ctx))[0] for t in creds["tags"]]
    rows = [(uid, o.lower()) for uid, o in zip(creds["uid"], owners, strict=True) if o]
    found = [status.get(o, "not in roster") for _u, o in rows]
    return result(
        [u for u, _o in rows],
        [PASS if f == "active" else FAIL for f in found],
        [{"owner": o, "roster_status": f} for (_u, o), f in zip(rows, found, strict=True)],
    )


@check("PUR-003")
def credential_purpose(ctx: Context) -> pd.DataFrame:
    return _tag_check(ctx, ctx.config.tags["purpose"], "purpose")
