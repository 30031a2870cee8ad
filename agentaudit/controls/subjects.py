"""Who or what each control result is about, and who must act on it.

One frame per `applies_to` value, all with the same columns, so the engine joins any check's
results to its subjects the same way. `subject_kind` (identity kind, credential type, …) serves
the engine's input checks and is dropped before findings are written.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from agentaudit.controls.context import Context
from agentaudit.model.identity import Uid, parse_uid

UNASSIGNED = "unassigned"
SUBJECT_COLUMNS = ["subject_uid", "subject_type", "native_id", "identity_name", "provider", "account", "owner"]


def owner_of(frame: pd.DataFrame) -> pd.Series:
    """Agents route to the business owner first; other identities to the identity owner."""
    agent_first = frame["business_owner"].fillna(frame["identity_owner"]).fillna(frame["control_owner"])
    nhi_first = frame["identity_owner"].fillna(frame["business_owner"]).fillna(frame["control_owner"])
    return agent_first.where(frame["is_agent"].astype(bool), nhi_first).fillna(UNASSIGNED)


def _frame(subject_type: str, **columns: Any) -> pd.DataFrame:
    """Columns are taken by position (a filtered table's index must not realign them)."""
    positional = {k: v.to_numpy() if isinstance(v, pd.Series) else v for k, v in columns.items()}
    return pd.DataFrame({"subject_type": subject_type, **positional})[[*SUBJECT_COLUMNS, "subject_kind"]]


def identity_subjects(ctx: Context) -> pd.DataFrame:
    ids = ctx.identities
    return _frame(
        "identity",
        subject_uid=ids["uid"],
        subject_kind=ids["kind"],
        native_id=ids["native_id"],
        identity_name=ids["name"],
        provider=ids["provider"],
        account=ids["account"],
        owner=owner_of(ids),
    )


def credential_subjects(ctx: Context, identities: pd.DataFrame, owner_tag_keys: list[str]) -> pd.DataFrame:
    """A credential is routed to its identity's owner, else to an owner tag of its own."""
    owner_by_uid = dict(zip(identities["subject_uid"], identities["owner"], strict=True))
    name_by_uid = dict(zip(identities["subject_uid"], identities["identity_name"], strict=True))

    def owner(identity_uid: Any, tags: Any) -> str:
        if isinstance(identity_uid, str) and identity_uid in owner_by_uid:
            return str(owner_by_uid[identity_uid])
        lowered = {str(k).lower(): str(v).lower() for k, v in (tags or {}).items() if v is not None}
        return next((lowered[k] for k in owner_tag_keys if lowered.get(k)), UNASSIGNED)

    creds = ctx.credentials
    return _frame(
        "credential",
        subject_uid=creds["uid"],
        subject_kind=creds["type"],
        native_id=creds["native_id"],
        identity_name=[
            name_by_uid.get(i, n) if isinstance(i, str) else n
            for i, n in zip(creds["identity_uid"], creds["name"], strict=True)
        ],
        provider=creds["provider"],
        account=creds["account"],
        owner=[owner(i, t) for i, t in zip(creds["identity_uid"], creds["tags"], strict=True)],
    )


def tool_subjects(ctx: Context, identities: pd.DataFrame) -> pd.DataFrame:
    owner_by_uid = dict(zip(identities["subject_uid"], identities["owner"], strict=True))
    name_by_uid = dict(zip(identities["subject_uid"], identities["identity_name"], strict=True))
    tools = ctx.tools
    agents = [parse_uid(a) for a in tools["agent_uid"]]
    return _frame(
        "tool",
        subject_uid=tools["uid"],
        subject_kind="tool",
        native_id=tools["uid"],
        identity_name=[
            f"{name_by_uid.get(a, a)}: {g}/{n}"
            for a, g, n in zip(tools["agent_uid"], tools["group"], tools["name"], strict=True)
        ],
        provider=[a.provider for a in agents],
        account=[a.account for a in agents],
        owner=[owner_by_uid.get(a, UNASSIGNED) for a in tools["agent_uid"]],
    )


def source_subjects(ctx: Context) -> pd.DataFrame:
    src = ctx.sources
    return _frame(
        "source",
        subject_uid=src["name"],
        subject_kind=src["kind"],
        native_id=src["location"],
        identity_name=src["name"],
        provider=src["provider"],
        account=src["account"],
        owner="collection",
    )


def register_subjects(ctx: Context) -> pd.DataFrame:
    reg = ctx.register
    return _frame(
        "register_entry",
        subject_uid=reg["location"],
        subject_kind="register_entry",
        native_id=reg["match"],
        identity_name=reg["match"],
        provider=reg["provider"],
        account=reg["account"],
        owner=reg["business_owner"].fillna(UNASSIGNED),
    )


def account_subjects(ctx: Context) -> pd.DataFrame:
    ids = ctx.identities
    accounts = sorted(set(ids.loc[ids["provider"] == "aws", "account"]))
    return _frame(
        "account",
        subject_uid=[f"aws-account:{a}" for a in accounts],
        subject_kind="aws_account",
        native_id=accounts,
        identity_name=[f"AWS account {a}" for a in accounts],
        provider="aws",
        account=accounts,
        owner=UNASSIGNED,
    )


def attestation_subjects(ctx: Context) -> pd.DataFrame:
    """An owner's decision is the subject of ATT-002: the thing revoked may be gone by now."""
    latest = ctx.decisions
    if latest.empty:
        return pd.DataFrame(columns=[*SUBJECT_COLUMNS, "subject_kind"])
    parsed = [_uid_parts(u) for u in latest["subject_uid"]]
    return _frame(
        "attestation",
        subject_uid=latest["row_id"],
        subject_kind=latest["kind"],
        native_id=latest["subject_uid"],
        identity_name=latest["label"],
        provider=[p.provider for p in parsed],
        account=[p.account for p in parsed],
        owner=latest["reviewer"],
    )


def _uid_parts(uid: Any) -> Uid:
    """A stored decision's subject; one that is not a uid keeps no provider/account (its needs
    then cannot apply) rather than stopping the check."""
    try:
        return parse_uid(str(uid))
    except ValueError:
        return Uid("", "", str(uid))


def subject_frames(ctx: Context, owner_tag_keys: list[str]) -> dict[str, pd.DataFrame]:
    """Subjects per `applies_to` value of the catalog."""
    identities = identity_subjects(ctx)
    return {
        "attestations": attestation_subjects(ctx),
        "accounts": account_subjects(ctx),
        "identities": identities,
        "agents": identities,
        "credentials": credential_subjects(ctx, identities, owner_tag_keys),
        "tools": tool_subjects(ctx, identities),
        "sources": source_subjects(ctx),
        "register": register_subjects(ctx),
    }
