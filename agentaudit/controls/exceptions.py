"""Risk acceptances from the agent register: a failing finding the business has accepted, with an
approver and an expiry, shows as `accepted` (never hidden); once the expiry passes it fails again.

An acceptance written for an agent also covers what acts for it: a Bedrock agent's execution
role (and the other way round), the agent's tools, and the credentials of the identity.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from agentaudit.controls.context import Context
from agentaudit.model.records import Status


def _acceptances(ctx: Context) -> dict[tuple[str, str], dict[str, Any]]:
    """(control id, identity uid) → acceptance, spread across linked identities."""
    links: dict[str, set[str]] = {}
    for uid, linked in zip(ctx.identities["uid"], ctx.identities["links"], strict=True):
        for other in linked or ():
            links.setdefault(uid, set()).add(other)
            links.setdefault(other, set()).add(uid)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    reg = ctx.register
    for uid, location, accepted in zip(reg["matched_uid"], reg["location"], reg["risk_acceptances"], strict=True):
        if not isinstance(uid, str):
            continue
        for item in accepted or []:
            record = {**item, "register": location}
            for target in {uid, *links.get(uid, set())}:
                current = found.get((item["control"], target))
                if current is None or str(current["expires"]) < str(record["expires"]):
                    found[(item["control"], target)] = record
    return found


def _owning_identity(ctx: Context) -> dict[str, str]:
    """Subject uid → identity uid for subjects that are not identities themselves."""
    owner = dict(zip(ctx.tools["uid"], ctx.tools["agent_uid"], strict=True))
    creds = ctx.credentials[ctx.credentials["identity_uid"].notna()]
    owner.update(zip(creds["uid"], creds["identity_uid"], strict=True))
    return owner


def apply_acceptances(findings: pd.DataFrame, ctx: Context) -> pd.DataFrame:
    """Mark failing findings covered by an unexpired acceptance as accepted; note expired ones."""
    accepted = _acceptances(ctx)
    if not accepted or findings.empty:
        return findings
    owner = _owning_identity(ctx)
    today = ctx.as_of.date()
    statuses = findings["status"].tolist()
    evidences = findings["evidence"].tolist()
    for index, (control, subject, status) in enumerate(
        zip(findings["control_id"], findings["subject_uid"], statuses, strict=True)
    ):
        if status != Status.FAIL.value:
            continue
        acceptance = accepted.get((control, subject)) or accepted.get((control, owner.get(subject, "")))
        if acceptance is None:
            continue
        active = date.fromisoformat(str(acceptance["expires"])) >= today
        evidences[index] = {**(evidences[index] or {}), "risk_acceptance": {**acceptance, "active": active}}
        if active:
            statuses[index] = Status.ACCEPTED.value
    return findings.assign(status=statuses, evidence=evidences)
