"""What a check sees: one snapshot's tables, the thresholds and the as-of time. No I/O, no clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from agentaudit.config import Config
from agentaudit.model.periods import period_of
from agentaudit.model.records import Status

# Kinds the cloud provider owns and manages; accountability controls do not apply to them.
PROVIDER_MANAGED_KINDS = {"aws_service_linked_role", "azure_microsoft_app"}


class NotEvaluated(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a check whose input is missing: the control is reported as not evaluated."""


@dataclass
class Context:
    identities: pd.DataFrame
    credentials: pd.DataFrame
    grants: pd.DataFrame
    tools: pd.DataFrame
    people: pd.DataFrame
    profiles: pd.DataFrame
    register: pd.DataFrame
    sources: pd.DataFrame
    trails: pd.DataFrame
    as_of: pd.Timestamp
    config: Config
    # Decisions imported from owner workbooks for this period and the one before, oldest first.
    attestations: pd.DataFrame = field(default_factory=pd.DataFrame)
    snapshot_created: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        """Credentials of provider-managed identities (Microsoft first-party apps, service-linked
        roles) are the provider's to manage: no control evaluates them."""
        if self.credentials.empty or self.identities.empty:
            return
        managed = set(self.identities.loc[self.identities["kind"].isin(PROVIDER_MANAGED_KINDS), "uid"])
        if managed:
            self.credentials = self.credentials[~self.credentials["identity_uid"].isin(managed)]

    @property
    def period(self) -> str:
        return period_of(self.as_of)

    @cached_property
    def decisions(self) -> pd.DataFrame:
        """The last decision imported for each attestation row: a later Keep overrides an
        earlier Revoke (imports are read oldest first)."""
        if self.attestations.empty:
            return self.attestations
        return self.attestations.drop_duplicates("row_id", keep="last")

    @property
    def thresholds(self) -> dict[str, int]:
        return self.config.thresholds

    @cached_property
    def nhis(self) -> pd.DataFrame:
        """Identities the customer is accountable for (not provider-managed)."""
        return self.identities[~self.identities["kind"].isin(PROVIDER_MANAGED_KINDS)]

    @cached_property
    def agents(self) -> pd.DataFrame:
        return self.nhis[self.nhis["is_agent"].astype(bool)]

    def days_since(self, column: pd.Series) -> pd.Series:
        return (self.as_of - column).dt.days

    @cached_property
    def register_by_uid(self) -> pd.DataFrame:
        matched = self.register[self.register["matched_uid"].notna()]
        return matched.drop_duplicates("matched_uid").set_index("matched_uid")


Check = Callable[[Context], pd.DataFrame]


STATUS_VALUES = frozenset(s.value for s in Status)


class InvalidStatusError(ValueError):
    """A check produced a status outside `Status`: a bug in the check, never counted silently."""


def result(subject_uid: Any, status: Any, evidence: Any) -> pd.DataFrame:
    """The frame every check returns: one row per subject evaluated. Statuses must be `Status`
    members (or their values); anything else raises rather than vanishing from the counts."""
    frame = pd.DataFrame({"subject_uid": subject_uid, "status": status, "evidence": evidence})
    frame["status"] = frame["status"].astype(str)  # a Status member's str() is its value
    validate_statuses(frame)
    return frame


def validate_statuses(frame: pd.DataFrame, control_id: str | None = None) -> None:
    """Raise InvalidStatusError naming the control and the unknown values."""
    if frame.empty or "status" not in frame:
        return
    bad = sorted({str(v) for v in frame["status"].unique()} - STATUS_VALUES)
    if bad:
        who = f"control {control_id}" if control_id else "the check"
        raise InvalidStatusError(f"{who} returned unknown status(es) {bad}; use agentaudit.model.records.Status")
