"""Owner attestation workbooks: `attestation/<reviewer>.xlsx`, one per reviewer, in every pack.

The reviewer of an owner's rows is the owner while the HR roster says they are employed, else the
nearest active manager above them in the roster, else the config's fallback reviewer; each
workbook says whose rows it carries and why, the deadline and where to return it.
Each workbook lists only that reviewer's identities, their credentials and their entitlements
(one row per policy or role assignment), with a Keep / Revoke / Modify drop-down and a comment
cell. The sheet is protected against accidental edits (sorting and filtering stay allowed); the
real integrity check is each row's HMAC code (`agentaudit.model.attestation`), verified on import.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

from agentaudit.controls.context import Context
from agentaudit.controls.engine import UNASSIGNED, subject_frames
from agentaudit.model import attestation as fmt
from agentaudit.model.campaigns import Campaign

FOLDER = "attestation"
MAX_LIST = 8  # actions / resources named per entitlement row before "+N more"


@dataclass(frozen=True)
class Issued:
    """What the pack issued: one workbook per owner, with its row count."""

    campaign_id: int
    workbooks: dict[str, tuple[str, int]]  # owner → (file name, rows)


def _open_findings(findings: pd.DataFrame) -> dict[str, str]:
    """subject → its failing control ids; plain dicts (a pandas group per subject costs seconds)."""
    failing = findings.loc[findings["status"] == "fail", ["subject_uid", "control_id"]].drop_duplicates()
    ids: dict[str, list[str]] = {}
    for uid, control in zip(failing["subject_uid"], failing["control_id"], strict=True):
        ids.setdefault(uid, []).append(control)
    return {uid: ", ".join(sorted(controls)) for uid, controls in ids.items()}


def _short_list(values: Any) -> str:
    items = list(values or ())
    shown = ", ".join(items[:MAX_LIST])
    return shown + (f" (+{len(items) - MAX_LIST} more)" if len(items) > MAX_LIST else "")


def _dates(column: pd.Series) -> list[str]:
    """Day precision, "-" where missing; converted as a column (half a million rows at scale)."""
    return pd.to_datetime(column, utc=True).dt.strftime("%Y-%m-%d").fillna("-").tolist()


@dataclass(frozen=True)
class Review:
    """What the owner workbooks are built from; the rows themselves are built in the worker."""

    context: Context
    findings: pd.DataFrame
    campaign: Campaign


@dataclass(frozen=True)
class Route:
    """Who reviews an owner's rows, and why when it is not the owner."""

    reviewer: str
    why: str = ""


def reviewer_routes(owners: Iterable[str], people: pd.DataFrame, fallback: str) -> dict[str, Route]:
    """Owner → reviewer: the owner while employed, else the nearest active manager in the roster,
    else the fallback reviewer (recorded as such). Without a roster employment cannot be checked,
    so the owner reviews."""
    status = {str(e).lower(): s for e, s in zip(people.get("email", []), people.get("status", []), strict=True)}
    manager = {str(e).lower(): m for e, m in zip(people.get("email", []), people.get("manager", []), strict=True)}
    return {owner: _route(str(owner), status, manager, fallback) for owner in set(owners)}


def _route(owner: str, status: dict[str, Any], manager: dict[str, Any], fallback: str) -> Route:
    def to_fallback(why: str) -> Route:
        return Route(fallback, f"{why}; fallback reviewer from the config") if fallback else Route(owner, why)

    key = owner.lower()
    if owner == UNASSIGNED:
        return to_fallback("no owner named") if fallback else Route(owner)
    if not status or status.get(key) == "active":
        return Route(owner)
    if key not in status:
        return to_fallback(f"{owner} is not in the HR roster")
    seen, current = {key}, key
    while isinstance(boss := manager.get(current), str) and boss and boss.lower() not in seen:
        if status.get(boss.lower()) == "active":
            nearest = "their manager" if current == key else "the nearest active manager above them"
            return Route(boss, f"{owner} has left; you are {nearest} in the HR roster")
        seen.add(boss.lower())
        current = boss.lower()
    return to_fallback(f"{owner} has left and no active manager is in the HR roster")


def _routes(ctx: Context, owners: Iterable[str]) -> dict[str, Route]:
    return reviewer_routes(owners, ctx.people, str(ctx.config.data["attestation"]["fallback_reviewer"]))


def _owners(ctx: Context) -> tuple[dict[str, str], pd.Series]:
    """Owner per identity uid, and per credential uid: the same routing as the findings."""
    subjects = subject_frames(ctx, ctx.config.tags["business_owner"] + ctx.config.tags["identity_owner"])
    owner = dict(zip(subjects["identities"]["subject_uid"], subjects["identities"]["owner"], strict=True))
    creds = subjects["credentials"].drop_duplicates("subject_uid").set_index("subject_uid")["owner"]
    return owner, creds


def row_owners(ctx: Context) -> pd.DataFrame:
    """The owner and reviewer of every row `review_rows` builds, without building the rows (for
    the counts the PDF shows while the workbooks are still being written)."""
    owner, cred_owner = _owners(ctx)
    nhis = ctx.nhis
    grants = ctx.grants[ctx.grants["identity_uid"].isin(set(nhis["uid"]))]
    pairs = grants[["identity_uid", "source"]].drop_duplicates()
    owners = pd.concat(
        [
            nhis["uid"].map(owner),
            ctx.credentials["uid"].map(cred_owner).fillna(UNASSIGNED),
            pairs["identity_uid"].map(owner),
        ],
        ignore_index=True,
    ).fillna(UNASSIGNED)
    routes = _routes(ctx, owners.unique())
    return pd.DataFrame({"owner": owners, "reviewer": owners.map(lambda o: routes[o].reviewer)})


def review_rows(ctx: Context, findings: pd.DataFrame) -> pd.DataFrame:
    """Every row to attest, with the owner it goes to; identities first, then their credentials
    and entitlements, so an owner reads each identity's access under it."""
    owner, cred_owner = _owners(ctx)
    open_by = _open_findings(findings)
    names = dict(zip(ctx.nhis["uid"], ctx.nhis["name"], strict=True))
    frames = [
        _identity_rows(ctx.nhis, owner, open_by),
        _credential_rows(ctx.credentials, names, cred_owner, open_by),
        _entitlement_rows(ctx.grants, names, owner),
    ]
    rows = pd.concat(frames, ignore_index=True)
    rows["owner"] = rows["owner"].fillna(UNASSIGNED)
    routes = _routes(ctx, rows["owner"].unique())
    rows["reviewer"] = rows["owner"].map(lambda o: routes[o].reviewer)
    rows["why"] = rows["owner"].map(lambda o: routes[o].why)
    return rows.sort_values(["reviewer", "owner", "sort_uid", "order", "row_id"], kind="stable").reset_index(drop=True)


def _identity_rows(nhis: pd.DataFrame, owner: dict[str, str], open_by: dict[str, str]) -> pd.DataFrame:
    """One row per identity: what it is, its purpose, approved profile and last use."""
    return pd.DataFrame(
        {
            "owner": nhis["uid"].map(owner),
            "sort_uid": nhis["uid"],
            "order": 0,
            "row_id": [fmt.make_row_id("identity", u) for u in nhis["uid"]],
            "kind": "identity",
            "identity": nhis["name"],
            "provider": nhis["provider"],
            "account": nhis["account"],
            "item": [f"{k} (AI agent)" if a else str(k) for k, a in zip(nhis["kind"], nhis["is_agent"], strict=True)],
            "details": [
                f"purpose: {p or '-'}; approved profile: {a or '-'}; last used: {u}"
                for p, a, u in zip(nhis["purpose"], nhis["approved_profile"], _dates(nhis["last_used"]), strict=True)
            ],
            "open_findings": nhis["uid"].map(open_by).fillna(""),
        }
    )


def _credential_rows(
    creds: pd.DataFrame, names: dict[str, str], cred_owner: pd.Series, open_by: dict[str, str]
) -> pd.DataFrame:
    """One row per credential, sorted under its identity (or alone when it has none)."""
    standalone = creds["identity_uid"].isna() | ~creds["identity_uid"].isin(names)
    return pd.DataFrame(
        {
            "owner": creds["uid"].map(cred_owner).fillna(UNASSIGNED),
            "sort_uid": creds["identity_uid"].where(~standalone, creds["uid"]),
            "order": 1,
            "row_id": [fmt.make_row_id("credential", u) for u in creds["uid"]],
            "kind": "credential",
            "identity": creds["identity_uid"].map(names).fillna("(stand-alone)"),
            "provider": creds["provider"],
            "account": creds["account"],
            "item": creds["name"],
            "details": [
                f"{t} in {s}; created {c}; expires {e}; last used {u}" + ("" if en else "; disabled")
                for t, s, c, e, u, en in zip(
                    creds["type"],
                    creds["store"],
                    _dates(creds["created"]),
                    _dates(creds["expires"]),
                    _dates(creds["last_used"]),
                    creds["enabled"],
                    strict=True,
                )
            ],
            "open_findings": creds["uid"].map(open_by).fillna(""),
        }
    )


def _entitlement_rows(grants: pd.DataFrame, names: dict[str, str], owner: dict[str, str]) -> pd.DataFrame:
    """One row per (identity, policy or role assignment): the unit an owner can actually revoke.
    Grouped with plain dicts: a DataFrame per group costs minutes at a million grants."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    columns = ["identity_uid", "source", "source_kind", "effect", "actions", "resources", "admin", "privesc"]
    for uid, source, kind, effect, actions, resources, admin, privesc in zip(
        *(grants[c].tolist() for c in columns), strict=True
    ):
        if uid not in names:
            continue
        group = groups.get((uid, source))
        if group is None:
            group = groups[(uid, source)] = {
                "kind": kind, "effects": set(), "actions": set(), "resources": set(), "flags": set()
            }  # fmt: skip
        group["effects"].add(effect)
        group["actions"].update(actions or ())
        group["resources"].update(resources or ())
        if admin:
            group["flags"].add("admin")
        if privesc:
            group["flags"].add("privilege escalation")
    uids = [uid for uid, _ in groups]
    return pd.DataFrame(
        {
            "owner": [owner.get(u, UNASSIGNED) for u in uids],
            "sort_uid": uids,
            "order": 2,
            "row_id": [fmt.make_row_id("entitlement", u, s) for u, s in groups],
            "kind": "entitlement",
            "identity": [names[u] for u in uids],
            "provider": [u.split(":", 1)[0] for u in uids],
            "account": [u.split(":", 2)[1] for u in uids],
            "item": [f"{g['kind']}: {s}" for (_, s), g in groups.items()],
            "details": [
                f"{'/'.join(sorted(g['effects']))}: {_short_list(sorted(g['actions'])) or '-'} on "
                f"{_short_list(sorted(g['resources'])) or '-'}"
                + (f" [{', '.join(sorted(g['flags']))}]" if g["flags"] else "")
                for g in groups.values()
            ],
            "open_findings": "",
        }
    )


def file_names(owners: list[str]) -> dict[str, str]:
    """A safe, readable file name per owner; a hash suffix keeps two owners from colliding."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for owner in owners:
        base = re.sub(r"[^A-Za-z0-9@._-]+", "_", owner).strip("._")[:80] or "owner"
        name = f"{base}.xlsx"
        if name.lower() in taken:
            name = f"{base}-{hashlib.sha256(owner.encode()).hexdigest()[:8]}.xlsx"
        taken.add(name.lower())
        names[owner] = name
    return names


def issue_summary(owners: pd.DataFrame, campaign: Campaign, settings: dict[str, Any]) -> dict[str, Any]:
    """What the pack says it issues (summary.json and the PDF): campaign, deadline, return
    address, and per reviewer the rows and the owners whose rows they review."""
    counts = owners["reviewer"].value_counts().sort_index()
    names = file_names(sorted(counts.index))
    behalf = owners[owners["owner"] != owners["reviewer"]].groupby("reviewer")["owner"].agg(lambda s: sorted(set(s)))
    return {
        "campaign": campaign.id,
        "period": campaign.period,
        "deadline": deadline(campaign, settings),
        "return_to": str(settings.get("return_to") or ""),
        "rows": int(counts.sum()),
        "workbooks": [
            {"reviewer": str(r), "file": f"{FOLDER}/{names[str(r)]}", "rows": int(n), "for_owners": behalf.get(r, [])}
            for r, n in counts.items()
        ],
    }


def deadline(campaign: Campaign, settings: dict[str, Any]) -> str:
    return f"{campaign.created_at + timedelta(days=int(settings.get('deadline_days', 21))):%Y-%m-%d}"
