"""An agentaudit control plug-in: one control, its catalog entry and its check.

Install next to agentaudit (`pip install ./examples/agentaudit-example-controls`); the control
then runs in every `check`, `run` and `pack`, and appears in the PDF and the workbook.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from agentaudit.controls.context import Context, result

TAG = "data-classification"


def data_classification(ctx: Context) -> pd.DataFrame:
    agents = ctx.agents
    values = [next((v for k, v in (tags or {}).items() if k.lower() == TAG), None) for tags in agents["tags"]]
    return result(
        agents["uid"],
        ["pass" if v else "fail" for v in values],
        [{"tag": TAG, "value": v} for v in values],
    )


def controls() -> dict[str, Any]:
    return {
        "controls": [
            {
                "id": "EXT-001",
                "title": "Every AI agent carries a data-classification tag",
                "family": "PUR",
                "severity": "low",
                "applies_to": "agents",
                "why": "Reviewers need to know what class of data an agent may touch before approving its access.",
                "remediation": f"Tag the agent's identity with {TAG} = public, internal, confidential or restricted.",
                "parameters": [],
                "needs": [],  # decided from the identity's own tags: no other input
                "mappings": {"iso_27001_2022": ["A.5.12"], "nist_ai_rmf_1_0": ["MAP 1.1"]},
            }
        ],
        "checks": {"EXT-001": data_classification},
    }
