"""Controls for Azure and Entra specifics: purpose of every workload principal, Key Vault secret
owners, several live client secrets, privileged roles at narrow scope and privileged directory
roles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from agentaudit.controls.checks._util import FAIL, MANUAL, PASS, evidence, grouped_list, pass_fail
from agentaudit.controls.checks.access import DIRECTORY_ROLE, with_unknown_roles
from agentaudit.controls.checks.ownership import person_state
from agentaudit.controls.context import Context, NotEvaluated, result
from agentaudit.controls.registry import check

NARROW_LEVELS = ("resource_group", "resource")


def _azure_nhis(ctx: Context) -> pd.DataFrame:
    return ctx.nhis[ctx.nhis["provider"] == "azure"]


@check("PUR-004")
def workload_purpose(ctx: Context) -> pd.DataFrame:
    """Non-agent Entra principals: notes (principal or application), purpose tag or register."""
    frame = _azure_nhis(ctx)
    frame = frame[~frame["is_agent"].astype(bool)]
    present = frame["purpose"].fillna("").astype(str).str.strip() != ""
    managed = frame["kind"] == "azure_managed_identity"
    statuses = [PASS if p else MANUAL if m else FAIL for p, m in zip(present, managed, strict=True)]
    notes = [
        None if p else "a managed identity serves its Azure resource: tag it with its purpose" if m else None
        for p, m in zip(present, managed, strict=True)
    ]
    return result(
        frame["uid"],
        statuses,
        evidence(purpose=frame["purpose"], source=frame["purpose_source"], kind=frame["kind"], note=notes),
    )


def _keyvault_secrets(ctx: Context) -> pd.DataFrame:
    creds = ctx.credentials
    return creds[(creds["store"] == "keyvault") & (creds["type"] == "secret")]


def _owner_tag(tags: Any, keys: list[str]) -> tuple[str | None, str | None]:
    lowered = {str(k).lower(): (str(k), str(v).strip()) for k, v in (tags or {}).items()}
    for key in keys:
        hit = lowered.get(key)
        if hit and hit[1]:
            return hit[1].lower(), hit[0]
    return None, None


def _owner_keys(ctx: Context) -> list[str]:
    tags = ctx.config.tags
    return [*tags["identity_owner"], *tags["business_owner"]]


@check("OWN-007")
def keyvault_secret_owner(ctx: Context) -> pd.DataFrame:
    secrets = _keyvault_secrets(ctx)
    found = [_owner_tag(t, _owner_keys(ctx)) for t in secrets["tags"]]
    return result(
        secrets["uid"],
        pass_fail([owner is not None for owner, _key in found]),
        evidence(owner=[o for o, _k in found], tag=[k for _o, k in found], tag_keys=[_owner_keys(ctx)] * len(found)),
    )


@check("OWN-008")
def keyvault_secret_owner_current(ctx: Context) -> pd.DataFrame:
    if ctx.people.empty:
        raise NotEvaluated("no HR roster was supplied (--roster)")
    roster = dict(zip(ctx.people["email"].str.lower(), ctx.people["status"], strict=True))
    secrets = _keyvault_secrets(ctx)
    found = [_owner_tag(t, _owner_keys(ctx)) for t in secrets["tags"]]
    keep = [owner is not None for owner, _key in found]
    secrets = secrets.loc[np.array(keep, dtype=bool)]
    owners = [o for (o, _k), k in zip(found, keep, strict=True) if k]
    states = [person_state({"mail": o, "upn": o}, roster, ctx.as_of) for o in owners]
    statuses = [PASS if s == "current" else FAIL if s.startswith("departed") else MANUAL for s in states]
    return result(secrets["uid"], statuses, evidence(owner=owners, state=states))


def _active_secret(creds: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    started = creds["created"].isna() | (creds["created"] <= as_of)
    not_ended = creds["expires"].isna() | (creds["expires"] > as_of)
    return creds["enabled"].astype(bool) & started & not_ended


@check("LC-013")
def several_active_secrets(ctx: Context) -> pd.DataFrame:
    """Client secrets (password credentials) valid at the as-of date, application and principal
    together; certificates do not count."""
    frame = _azure_nhis(ctx)
    creds = ctx.credentials
    secrets = creds[(creds["store"] == "entra") & (creds["type"] == "client_secret")]
    secrets = secrets[secrets["identity_uid"].isin(set(frame["uid"]))]
    active = secrets[_active_secret(secrets, ctx.as_of)]
    names = grouped_list(active, "identity_uid", "name")
    holders = frame[frame["uid"].isin(set(secrets["identity_uid"]))]
    counts = [len(names.get(uid, [])) for uid in holders["uid"]]
    return result(
        holders["uid"],
        pass_fail([c <= 1 for c in counts]),
        evidence(active_client_secrets=counts, secrets=[sorted(names.get(u, [])) for u in holders["uid"]]),
    )


@check("ACC-011")
def privileged_role_narrow_scope(ctx: Context) -> pd.DataFrame:
    """Owner, Contributor, User Access Administrator, RBAC Administrator or an equivalent custom
    role assigned at resource-group or resource scope (broader scope is ACC-001)."""
    frame = _azure_nhis(ctx)
    g = ctx.grants
    mask = g["privileged_role"].fillna(False).astype(bool) & g["scope_level"].isin(NARROW_LEVELS)
    hits = g[mask]
    roles = {
        uid: sorted({f"{a[0]} at {r[0]}" for a, r in zip(rows["actions"], rows["resources"], strict=True)})
        for uid, rows in hits.groupby("identity_uid")
    }
    listed = [roles.get(uid, []) for uid in frame["uid"]]
    found = result(frame["uid"], pass_fail([not r for r in listed]), evidence(privileged_assignments=listed))
    return with_unknown_roles(ctx, found)


def _directory_roles(grants: pd.DataFrame) -> dict[str, list[tuple[str, str, bool, bool]]]:
    """identity uid → (role, scope, privileged, known) of each directory role assignment."""
    rows = grants[grants["source_kind"] == DIRECTORY_ROLE]
    found: dict[str, list[tuple[str, str, bool, bool]]] = {}
    for uid, actions, resources, privileged, known in zip(
        rows["identity_uid"],
        rows["actions"],
        rows["resources"],
        rows["privileged_role"].fillna(False),
        rows["resolved"].fillna(False),
        strict=True,
    ):
        role = str(actions[0]).removeprefix("entra-role:")
        found.setdefault(uid, []).append((role, str(resources[0]), bool(privileged), bool(known)))
    return found


@check("ACC-012")
def privileged_directory_role(ctx: Context) -> pd.DataFrame:
    """A privileged Entra directory role tenant-wide fails; scoped to an administrative unit or
    one application, or a role whose privilege is unknown, is manual."""
    frame = _azure_nhis(ctx)
    roles = _directory_roles(ctx.grants)
    statuses, evidences = [], []
    for uid in frame["uid"]:
        held = roles.get(uid, [])
        tenant_wide = sorted(r for r, scope, p, _k in held if p and scope == "/")
        scoped = sorted(f"{r} at {scope}" for r, scope, p, _k in held if p and scope != "/")
        unknown = sorted(f"{r} at {scope}" for r, scope, _p, k in held if not k)
        statuses.append(FAIL if tenant_wide else MANUAL if scoped or unknown else PASS)
        evidences.append(
            {
                "privileged_tenant_wide": tenant_wide,
                "privileged_scoped": scoped,
                "roles_of_unknown_privilege": unknown,
                "directory_roles": sorted(r for r, _s, _p, _k in held),
            }
        )
    return result(frame["uid"], statuses, evidences)
