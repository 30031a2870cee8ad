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
from pathlib import Path
from typing import Any

import pandas as pd

from agentaudit.controls.context import Context
from agentaudit.controls.engine import UNASSIGNED, subject_frames
from agentaudit.model import attestation as fmt
from agentaudit.model.campaigns import Campaign
from agentaudit.output.sheetxml import Blank, column_array, frame_columns, text_array
from agentaudit.output.xlsx import Book

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


def write_review(review: Review, meta: dict[str, Any], folder: Path) -> Issued:
    """Build the rows and write every owner's workbook (runs in a forked worker of the pack)."""
    return write_workbooks(review_rows(review.context, review.findings), review.campaign, meta, folder)


def _showable(rows: pd.DataFrame) -> pd.DataFrame:
    """Control characters in estate text shown as \\xHH (XlsxWriter would write _x000D_ escapes
    that openpyxl and Excel read back differently); only the few affected cells are touched."""
    rows = rows.copy()
    for column in _READ_ONLY:
        values = rows[column]
        if values.dtype != object:
            continue
        affected = values.str.contains(fmt.UNSHOWABLE, regex=True, na=False)
        if affected.any():
            rows.loc[affected, column] = values[affected].map(fmt.display_text)
    return rows


def write_workbooks(rows: pd.DataFrame, campaign: Campaign, meta: dict[str, Any], folder: Path) -> Issued:
    target = folder / FOLDER
    if rows.empty:  # no workbook to issue: an empty folder would be an entry `verify` cannot account for
        return Issued(campaign.id, {})
    target.mkdir()
    rows = _showable(rows)
    if "reviewer" not in rows:  # rows built without routing: each owner reviews their own
        rows = rows.assign(reviewer=rows["owner"], why="")
    names = file_names(sorted(rows["reviewer"].unique()))
    issued: dict[str, tuple[str, int]] = {}
    for name, group in rows.groupby("reviewer", sort=True):
        reviewer = str(name)
        _write_one(target / names[reviewer], reviewer, group, campaign, meta)
        issued[reviewer] = (names[reviewer], len(group))
    return Issued(campaign.id, issued)


# The row fields shown before the owner's cells, in the order of fmt.COLUMNS.
_FIELD = {
    fmt.KIND: "kind", fmt.IDENTITY: "identity", fmt.PROVIDER: "provider", fmt.ACCOUNT: "account",
    fmt.ITEM: "item", fmt.DETAILS: "details", fmt.OPEN_FINDINGS: "open_findings",
}  # fmt: skip
_READ_ONLY = [_FIELD[c] for c in fmt.COLUMNS[: fmt.COLUMNS.index(fmt.DECISION)]]


def _write_one(path: Path, owner: str, group: pd.DataFrame, campaign: Campaign, meta: dict[str, Any]) -> None:
    reviewer = fmt.id_key(owner)  # what the integrity codes sign and the import stores
    book = Book(path)
    wb = book.book
    unlocked = wb.add_format({"locked": False, "bg_color": "#FFF8DC", "border": 1})
    wrap = wb.add_format({"text_wrap": True, "italic": True, "valign": "top"})
    sheet = wb.add_worksheet(fmt.REVIEW_SHEET)
    widths = [11, 34, 8, 16, 40, 70, 18, 12, 40, 40, 26]
    for index, width in enumerate(widths):
        sheet.set_column(index, index, width)
    count = len(group)
    last_col = len(fmt.COLUMNS) - 1
    title = fmt.display_text(f"Access review: {reviewer} ({meta['organisation']}, {campaign.period})")
    sheet.merge_range(0, 0, 0, last_col, title, book.bold)
    issue = meta.get("attestation") or {}
    due = issue.get("deadline") or deadline(campaign, {})
    address = issue.get("return_to") or "the governance team that sent it"
    sheet.set_row(1, 60)  # the instructions span the sheet's width, wrapped over several lines
    sheet.merge_range(1, 0, 1, last_col, fmt.display_text(_instructions(group, due, address)), wrap)
    sheet.merge_range(
        2,
        0,
        2,
        last_col,
        f"Return by {due} to {address} · campaign {campaign.id} · pack run {meta['run_id']} · "
        f"snapshot {meta['snapshot_id']} · issued {campaign.created_at:%Y-%m-%d} · {count} rows",
        book.bold,
    )
    header = fmt.HEADER_ROW - 1
    for column, name in enumerate(fmt.COLUMNS):
        sheet.write_string(header, column, name, book.bold)
    decision_col = fmt.COLUMNS.index(fmt.DECISION)
    codes = [fmt.row_code(campaign.secret, campaign.id, reviewer, row_id) for row_id in group["row_id"]]
    owner_cells = Blank(unlocked._get_xf_index())  # Decision and Comment: the only cells an owner edits
    shown = frame_columns(group[_READ_ONLY])
    book.fill(sheet, [*shown, owner_cells, owner_cells, column_array(group["row_id"]), text_array(codes)], header + 2)
    last = header + count
    sheet.data_validation(
        header + 1,
        decision_col,
        max(last, header + 1),
        decision_col,
        {
            "validate": "list",
            "source": fmt.DECISIONS,
            "error_title": "Decision",
            "error_message": f"Choose one of {', '.join(fmt.DECISIONS)}, or leave the cell empty.",
        },
    )
    sheet.freeze_panes(fmt.HEADER_ROW, 2)
    sheet.autofilter(header, 0, last, len(fmt.COLUMNS) - 1)
    sheet.protect("", {"autofilter": True, "sort": True, "format_columns": True, "format_rows": True})
    _write_meta(book, reviewer, count, campaign, meta)
    book.save()


def _instructions(group: pd.DataFrame, due: str, address: str) -> str:
    """What to do, by when, to whom; and, for rows routed here from another owner, why."""
    text = (
        "For every row choose Keep, Revoke or Modify in the Decision column (Modify needs a comment saying "
        f"what to change). Leave a row empty to decide later. Sort and filter as you like; return this file "
        f"as .xlsx by {due} to {address}. Rows typed in by hand or with a changed Row ID or integrity code "
        "are refused on import."
    )
    routed = group[group["why"] != ""].groupby("why").size()
    if not routed.empty:
        text += " Routed to you: " + "; ".join(f"{why} ({n} rows)" for why, n in routed.items()) + "."
    return text


def _write_meta(book: Book, reviewer: str, count: int, campaign: Campaign, meta: dict[str, Any]) -> None:
    sheet = book.book.add_worksheet(fmt.META_SHEET)
    pairs = [
        ("format", fmt.FORMAT),
        ("campaign", str(campaign.id)),
        ("period", campaign.period),
        ("reviewer", fmt.to_cell(reviewer)),
        ("rows", str(count)),
        ("organisation", str(meta["organisation"])),
        ("run", str(meta["run_id"])),
        ("code", fmt.meta_code(campaign.secret, campaign.id, reviewer, count)),
    ]
    for index, (key, value) in enumerate(pairs):
        book.row(sheet, index, (key, value))
    sheet.hide()
    sheet.protect()
