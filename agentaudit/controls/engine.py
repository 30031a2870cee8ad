"""Evaluate the catalog over one snapshot: findings with evidence, routed to an owner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from agentaudit.config import Config
from agentaudit.controls import plugins
from agentaudit.controls.catalog import Catalog, Control, load_catalog
from agentaudit.controls.context import Check, Context, NotEvaluated
from agentaudit.controls.exceptions import apply_acceptances
from agentaudit.controls.registry import load_builtin_checks
from agentaudit.errors import InputError
from agentaudit.model.records import Status

UNASSIGNED = "unassigned"
OPEN_STATUSES = (Status.FAIL.value, Status.ACCEPTED.value)  # not fixed: first-seen and trend follow them
SUBJECT_COLUMNS = ["subject_uid", "subject_type", "native_id", "identity_name", "provider", "account", "owner"]


@dataclass
class Evaluation:
    findings: pd.DataFrame
    controls: list[dict[str, Any]]
    catalog: Catalog
    as_of: datetime
    trend: dict[str, Any] = field(default_factory=dict)

    def failing(self) -> pd.DataFrame:
        return self.findings[self.findings["status"] == Status.FAIL.value]


def checked_catalog(config: Config) -> tuple[Catalog, dict[str, Check]]:
    """The catalog and its checks (built-in and plug-ins), which must name exactly the same ids."""
    catalog = load_catalog(set(config.thresholds))
    checks = dict(load_builtin_checks())
    plugins.merge(catalog, checks, plugins.discover(), set(config.thresholds))
    missing = sorted(set(catalog.controls) - set(checks))
    orphans = sorted(set(checks) - set(catalog.controls))
    if missing or orphans:
        raise InputError(
            f"catalog and checks disagree: no check for {missing or '-'}; no catalog entry for {orphans or '-'}",
            "agentaudit/controls/catalog.yaml",
        )
    return catalog, checks


def _owner_of(frame: pd.DataFrame) -> pd.Series:
    """Agents route to the business owner first; other identities to the identity owner."""
    agent_first = frame["business_owner"].fillna(frame["identity_owner"]).fillna(frame["control_owner"])
    nhi_first = frame["identity_owner"].fillna(frame["business_owner"]).fillna(frame["control_owner"])
    return agent_first.where(frame["is_agent"].astype(bool), nhi_first).fillna(UNASSIGNED)


def subject_frames(ctx: Context, owner_tag_keys: list[str]) -> dict[str, pd.DataFrame]:
    ids = ctx.identities
    identity_subjects = pd.DataFrame(
        {
            "subject_uid": ids["uid"],
            "subject_type": "identity",
            "native_id": ids["native_id"],
            "identity_name": ids["name"],
            "provider": ids["provider"],
            "account": ids["account"],
            "owner": _owner_of(ids),
        }
    )
    owner_by_uid = dict(zip(identity_subjects["subject_uid"], identity_subjects["owner"], strict=True))
    name_by_uid = dict(zip(ids["uid"], ids["name"], strict=True))
    creds = ctx.credentials

    def cred_owner(identity_uid: Any, tags: Any) -> str:
        if isinstance(identity_uid, str) and identity_uid in owner_by_uid:
            return owner_by_uid[identity_uid]
        lowered = {str(k).lower(): str(v).lower() for k, v in (tags or {}).items()}
        return next((lowered[k] for k in owner_tag_keys if lowered.get(k)), UNASSIGNED)

    credential_subjects = pd.DataFrame(
        {
            "subject_uid": creds["uid"],
            "subject_type": "credential",
            "native_id": creds["native_id"],
            "identity_name": [
                name_by_uid.get(i, n) if isinstance(i, str) else n
                for i, n in zip(creds["identity_uid"], creds["name"], strict=True)
            ],
            "provider": creds["provider"],
            "account": creds["account"],
            "owner": [cred_owner(i, t) for i, t in zip(creds["identity_uid"], creds["tags"], strict=True)],
        }
    )
    tools = ctx.tools
    tool_subjects = pd.DataFrame(
        {
            "subject_uid": tools["uid"],
            "subject_type": "tool",
            "native_id": tools["uid"],
            "identity_name": [
                f"{name_by_uid.get(a, a)}: {g}/{n}"
                for a, g, n in zip(tools["agent_uid"], tools["group"], tools["name"], strict=True)
            ],
            "provider": [a.split(":")[0] for a in tools["agent_uid"]],
            "account": [a.split(":")[1] for a in tools["agent_uid"]],
            "owner": [owner_by_uid.get(a, UNASSIGNED) for a in tools["agent_uid"]],
        }
    )
    src = ctx.sources
    source_subjects = pd.DataFrame(
        {
            "subject_uid": src["name"],
            "subject_type": "source",
            "native_id": src["location"],
            "identity_name": src["name"],
            "provider": src["provider"],
            "account": src["account"],
            "owner": "collection",
        }
    )
    reg = ctx.register
    register_subjects = pd.DataFrame(
        {
            "subject_uid": reg["location"],
            "subject_type": "register_entry",
            "native_id": reg["match"],
            "identity_name": reg["match"],
            "provider": reg["provider"],
            "account": reg["account"],
            "owner": reg["business_owner"].fillna(UNASSIGNED),
        }
    )
    aws_accounts = sorted(set(ids.loc[ids["provider"] == "aws", "account"]))
    account_subjects = pd.DataFrame(
        {
            "subject_uid": [f"aws-account:{a}" for a in aws_accounts],
            "subject_type": "account",
            "native_id": aws_accounts,
            "identity_name": [f"AWS account {a}" for a in aws_accounts],
            "provider": "aws",
            "account": aws_accounts,
            "owner": UNASSIGNED,
        }
    )
    return {
        "attestations": _attestation_subjects(ctx.decisions),
        "accounts": account_subjects,
        "identities": identity_subjects,
        "agents": identity_subjects,
        "credentials": credential_subjects,
        "tools": tool_subjects,
        "sources": source_subjects,
        "register": register_subjects,
    }


def _attestation_subjects(latest: pd.DataFrame) -> pd.DataFrame:
    """An owner's decision is the subject of ATT-002: the thing revoked may be gone by now."""
    if latest.empty:
        return pd.DataFrame(columns=SUBJECT_COLUMNS)
    parts = latest["subject_uid"].str.split(":", n=2)
    return pd.DataFrame(
        {
            "subject_uid": latest["row_id"],
            "subject_type": "attestation",
            "native_id": latest["subject_uid"],
            "identity_name": latest["label"],
            "provider": parts.str[0],
            "account": parts.str[1],
            "owner": latest["reviewer"],
        }
    )


def _run_one(
    control: Control, func: Check, ctx: Context, subjects: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, Any]]:
    summary: dict[str, Any] = {
        "control_id": control.id,
        "title": control.title,
        "family": control.family,
        "severity": control.severity.value,
        "evaluated": True,
        "reason": None,
    }
    try:
        frame = func(ctx)
    except NotEvaluated as exc:
        summary.update(evaluated=False, reason=str(exc), subjects=0)
        summary.update({s.value: 0 for s in Status})
        return pd.DataFrame(), summary
    if frame.empty:
        summary["subjects"] = 0
        summary.update({s.value: 0 for s in Status})
        return pd.DataFrame(), summary
    frame["subject_uid"] = frame["subject_uid"].astype(object)
    subjects = subjects.astype({"subject_uid": object})
    frame = frame.merge(subjects, on="subject_uid", how="left", validate="many_to_one")
    frame["control_id"] = control.id
    frame["title"] = control.title
    frame["family"] = control.family
    frame["severity"] = control.severity.value
    summary["subjects"] = len(frame)  # status counts are taken after risk acceptances apply
    return frame, summary


def evaluate(
    ctx: Context,
    config: Config,
    first_seen: dict[tuple[str, str], datetime] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Evaluation:
    catalog, checks = checked_catalog(config)
    subjects = subject_frames(ctx, config.tags["business_owner"] + config.tags["identity_owner"])
    frames, summaries = [], []
    for control in catalog.controls.values():
        if progress:
            progress(control.id)
        frame, summary = _run_one(
            control, checks[control.id], ctx, subjects[control.applies_to].drop_duplicates("subject_uid")
        )
        summaries.append(summary)
        if not frame.empty:
            frames.append(frame)
    findings = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=[*SUBJECT_COLUMNS, "status", "evidence"])
    )
    findings = apply_acceptances(findings, ctx)
    counts = findings.groupby(["control_id", "status"]).size() if not findings.empty else pd.Series(dtype=int)
    for summary in summaries:
        if summary["evaluated"]:
            summary.update({s.value: int(counts.get((summary["control_id"], s.value), 0)) for s in Status})
    as_of = ctx.as_of.to_pydatetime()
    seen = first_seen or {}
    failing = findings["status"].isin(OPEN_STATUSES)
    findings["first_seen"] = [
        seen.get((c, s), as_of) if f else None
        for c, s, f in zip(findings["control_id"], findings["subject_uid"], failing, strict=True)
    ]
    findings["owner"] = findings["owner"].fillna(UNASSIGNED)
    return Evaluation(findings=findings, controls=summaries, catalog=catalog, as_of=as_of)
