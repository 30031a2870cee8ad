"""LC: rotation, expiry, lifetime, secret rotation, one active key, unused credentials."""

from __future__ import annotations

import numpy as np
import pandas as pd

from agentaudit.controls.checks._util import (
    ERROR,
    FAIL,
    MANUAL,
    NOT_IN_REPORT,
    PASS,
    evidence,
    in_credential_report,
    managed_by,
    pass_fail,
)
from agentaudit.controls.context import Context, result
from agentaudit.controls.registry import check

ROTATED_TYPES = ("access_key", "client_secret", "api_key")


def _live(ctx: Context) -> pd.DataFrame:
    creds = _expiry(ctx, ctx.credentials)
    return creds[creds["enabled"].astype(bool)]


def _expiry(ctx: Context, creds: pd.DataFrame) -> pd.DataFrame:
    """An end date in `no_expiry_from_year` or later (Entra's "never expires" is 2299, portals
    offer 9999) is no expiry at all: `expires` becomes unknown, `expires_recorded` keeps it."""
    year = ctx.thresholds["no_expiry_from_year"]
    recorded = pd.to_datetime(creds["expires"], utc=True)
    far = recorded.notna() & (recorded.dt.year >= year)
    return creds.assign(expires_recorded=recorded, expires=recorded.where(~far))


@check("LC-001")
def rotated(ctx: Context) -> pd.DataFrame:
    creds = _live(ctx)
    creds = creds[creds["type"].isin(ROTATED_TYPES)]
    limit = ctx.thresholds["key_max_age_days"]
    age = ctx.days_since(creds["last_rotated"].fillna(creds["created"]))
    status = np.where(age.isna(), ERROR, np.where(age > limit, FAIL, PASS))
    return result(
        creds["uid"],
        status,
        evidence(last_rotated=creds["last_rotated"], age_days=age.astype("Int64"), threshold_days=[limit] * len(creds)),
    )


@check("LC-002")
def expiry_set(ctx: Context) -> pd.DataFrame:
    creds = _live(ctx)
    creds = creds[creds["store"].isin(("entra", "keyvault")) | (creds["type"] == "api_key")]
    threshold = [ctx.thresholds["no_expiry_from_year"]] * len(creds)
    return result(
        creds["uid"],
        pass_fail(creds["expires"].notna()),
        evidence(
            expires=creds["expires_recorded"], store=creds["store"], no_expiry_from_year=threshold, type=creds["type"]
        ),
    )


@check("LC-003")
def not_expired(ctx: Context) -> pd.DataFrame:
    creds = _expiry(ctx, ctx.credentials)
    creds = creds[creds["expires"].notna()]
    expired = creds["expires"] < ctx.as_of
    return result(
        creds["uid"],
        pass_fail(~expired),
        evidence(
            expires=creds["expires"],
            days_past=ctx.days_since(creds["expires"]).clip(lower=0),
            in_use_by=creds["tags"].map(lambda t: (t or {}).get("in_use_by")),
        ),
    )


@check("LC-004")
def expiring_soon(ctx: Context) -> pd.DataFrame:
    creds = _live(ctx)
    creds = creds[creds["expires"].notna() & (creds["expires"] >= ctx.as_of)]
    window = ctx.thresholds["expiring_within_days"]
    days_left = (creds["expires"] - ctx.as_of).dt.days
    return result(
        creds["uid"],
        pass_fail(days_left > window),
        evidence(expires=creds["expires"], days_left=days_left, window_days=[window] * len(creds)),
    )


@check("LC-005")
def lifetime(ctx: Context) -> pd.DataFrame:
    creds = _live(ctx)
    creds = creds[creds["store"].isin(("entra", "keyvault")) & creds["expires"].notna() & creds["created"].notna()]
    limit = ctx.thresholds["max_credential_lifetime_days"]
    days = (creds["expires"] - creds["created"]).dt.days
    return result(
        creds["uid"],
        pass_fail(days <= limit),
        evidence(created=creds["created"], expires=creds["expires"], lifetime_days=days, max_days=[limit] * len(creds)),
    )


@check("LC-006")
def secret_rotation(ctx: Context) -> pd.DataFrame:
    """Rotation on, an interval within the maximum, and rotation done: the value last changed
    (LastRotatedDate, else LastChangedDate, else CreatedDate) no longer ago than the maximum."""
    creds = _live(ctx)
    creds = creds[creds["store"] == "secretsmanager"]
    limit = ctx.thresholds["secret_rotation_max_days"]
    enabled = creds["rotation_enabled"].fillna(False).astype(bool)
    interval = pd.to_numeric(creds["rotation_interval_days"], errors="coerce")
    age = ctx.days_since(creds["last_rotated"])
    signal = [(a or {}).get("rotation_signal") if isinstance(a, dict) else None for a in creds["attributes"]]
    # The service that manages a secret decides whether Secrets Manager rotates it; its age still counts.
    managed = [managed_by(s, n, a) for s, n, a in zip(creds["store"], creds["name"], creds["attributes"], strict=True)]
    problems = []
    for on, days, old, when, by in zip(enabled, interval, age, signal, managed, strict=True):
        found = []
        if not on and not by:
            found.append("rotation is not enabled")
        if not pd.isna(days) and days > limit:
            found.append(f"rotation interval {int(days)} days exceeds {limit}")
        if pd.isna(old):
            found.append("no date shows when the value last changed")
        elif old > limit:
            never = when != "LastRotatedDate"
            found.append(f"{'never rotated; value unchanged' if never else 'last rotated'} {int(old)} days ago")
        problems.append(found)
    unknown = [bool(p) and p == ["no date shows when the value last changed"] for p in problems]
    status = np.where(unknown, ERROR, pass_fail([not p for p in problems]))
    return result(
        creds["uid"],
        status,
        evidence(
            rotation_enabled=enabled,
            interval_days=interval.astype("Int64"),
            last_rotated=creds["last_rotated"],
            rotation_signal=signal,
            days_since_rotation=age.astype("Int64"),
            problems=problems,
            managed_by=managed,
            max_days=[limit] * len(creds),
        ),
    )


@check("LC-007")
def one_active_key(ctx: Context) -> pd.DataFrame:
    """Per identity holding access keys. A key whose holder was not collected (its account's
    authorization details not read) is judged by the credential controls, not here."""
    keys = ctx.credentials[ctx.credentials["type"] == "access_key"]
    active = keys[keys["enabled"].astype(bool)].groupby("identity_uid").size()
    holders = keys.loc[keys["identity_uid"].isin(set(ctx.nhis["uid"])), "identity_uid"].unique()
    counts = [int(active.get(uid, 0)) for uid in holders]
    return result(list(holders), pass_fail([c <= 1 for c in counts]), evidence(active_keys=counts))


@check("LC-008")
def unused_credential(ctx: Context) -> pd.DataFrame:
    creds = _live(ctx)
    creds = creds[(creds["type"] == "access_key") | (creds["store"] == "secretsmanager")]
    limit = ctx.thresholds["unused_after_days"]
    idle = ctx.days_since(creds["last_used"])
    age = ctx.days_since(creds["created"])
    never = creds["last_used"].isna()
    unused = np.where(never, age > limit, idle > limit)
    status = np.where(never & age.isna(), MANUAL, np.where(unused, FAIL, PASS))
    return result(
        creds["uid"],
        status,
        evidence(
            last_used=creds["last_used"],
            days_idle=idle.astype("Int64"),
            created=creds["created"],
            threshold_days=[limit] * len(creds),
        ),
    )


@check("LC-009")
def static_keys(ctx: Context) -> pd.DataFrame:
    users = ctx.nhis[ctx.nhis["kind"] == "aws_iam_user"]
    keys = ctx.credentials[(ctx.credentials["type"] == "access_key") & ctx.credentials["enabled"].astype(bool)]
    active = keys.groupby("identity_uid").size()
    counts = [int(active.get(uid, 0)) for uid in users["uid"]]
    listed = in_credential_report(users)
    status = [PASS if c == 0 and seen else FAIL if c else ERROR for c, seen in zip(counts, listed, strict=True)]
    return result(
        users["uid"], status, evidence(active_access_keys=counts, note=[None if s else NOT_IN_REPORT for s in listed])
    )
