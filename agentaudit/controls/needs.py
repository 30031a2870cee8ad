"""No verdict without its input: results resting on a source that was not read become `error`.

A control declares in the catalog which input kinds its verdict rests on. An account or tenant
has an input when at least one source of that kind was read completely for it and none of that
kind failed for it (a failed page of a multi-page export leaves the account incomplete). A failed
source whose account is unknown leaves every account of its provider without that input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from agentaudit.controls.catalog import Control, Need
from agentaudit.controls.context import Context
from agentaudit.model.kinds import Input
from agentaudit.model.records import SourceStatus, Status

# Inputs the live AWS collector reads region by region (IAM and the credential report are global).
REGIONAL = (Input.SECRETS, Input.CERTIFICATES, Input.BEDROCK_AGENTS, Input.BEDROCK_TOOLS, Input.CLOUDTRAIL_TRAILS)


@dataclass(frozen=True)
class Coverage:
    """Accounts/tenants holding each input kind completely."""

    complete: dict[str, frozenset[str]]

    @classmethod
    def of(cls, sources: pd.DataFrame) -> Coverage:
        complete: dict[str, set[str]] = {}
        broken: dict[str, set[str]] = {}
        everywhere_broken: set[str] = set()
        for kind, account, status in zip(sources["kind"], sources["account"], sources["status"], strict=True):
            if kind == Input.AWS_REGIONS.value and status != SourceStatus.COMPLETE.value and isinstance(account, str):
                # The account's regions are unknown: every per-region input may have missed some.
                for regional in REGIONAL:
                    broken.setdefault(regional.value, set()).add(account)
            if status == SourceStatus.COMPLETE.value:
                if isinstance(account, str):
                    complete.setdefault(kind, set()).add(account)
            elif isinstance(account, str):
                broken.setdefault(kind, set()).add(account)
            else:
                everywhere_broken.add(kind)
        return cls(
            {
                kind: frozenset() if kind in everywhere_broken else frozenset(accounts - broken.get(kind, set()))
                for kind, accounts in complete.items()
            }
        )

    def accounts(self, kind: Input) -> frozenset[str]:
        """The accounts/tenants that hold this input completely."""
        return self.complete.get(kind.value, frozenset())

    def has(self, kind: Input, account: str) -> bool:
        return account in self.accounts(kind)


def customer_input_missing(control: Control, ctx: Context) -> str | None:
    """Why the control cannot be evaluated at all: a needed customer input was not supplied."""
    supplied = {Input.ROSTER: not ctx.people.empty, Input.REGISTER: not ctx.register.empty}
    for need in control.needs:
        if need.input.provider is None and not supplied.get(need.input, False):
            return f"needs the {need.input.value}, which was not supplied"
    return None


def _lacking(frame: pd.DataFrame, need: Need, coverage: Coverage) -> np.ndarray:
    """Per row: does the need apply to the subject and its account/tenant lack the input? A
    subject with no account (not a string) never has it."""
    applies = frame["provider"] == need.input.provider
    if need.subjects is not None:
        applies &= frame["subject_kind"].isin(need.subjects)
    has = frame["account"].isin(coverage.accounts(need.input))
    return (applies & ~has).to_numpy(dtype=bool)


def apply_needs(frame: pd.DataFrame, control: Control, coverage: Coverage) -> pd.DataFrame:
    """Turn every result whose subject's account/tenant lacks a needed input into `error`, with
    evidence naming the input; the check's own verdict is not kept (it rested on missing data)."""
    lacking = [(n.input.value, _lacking(frame, n, coverage)) for n in control.needs if n.input.provider is not None]
    if not lacking:
        return frame
    positions = np.flatnonzero(np.logical_or.reduce([mask for _kind, mask in lacking]))
    if positions.size == 0:
        return frame
    frame = frame.copy()
    statuses, evidences = frame["status"].tolist(), frame["evidence"].tolist()
    providers, accounts = frame["provider"].tolist(), frame["account"].tolist()
    for position in positions.tolist():
        kinds = [kind for kind, mask in lacking if mask[position]]
        statuses[position] = Status.ERROR.value
        evidences[position] = _missing_evidence(kinds, providers[position], accounts[position])
    frame["status"], frame["evidence"] = statuses, evidences
    return frame


def _missing_evidence(kinds: list[str], provider: Any, account: Any) -> dict[str, Any]:
    where = f"{provider} account/tenant {account}" if isinstance(account, str) else f"this {provider} subject"
    return {
        "missing_input": kinds,
        "note": f"not collected completely for {where}: {', '.join(kinds)}; no verdict without its input",
    }
