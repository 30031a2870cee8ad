"""Charts for the pack, drawn with matplotlib to SVG (vector, so the PDF stays sharp).

Labels are estate text (tag values such as a business unit), so matplotlib's math-text parser is
switched off: `Ops $_$` is drawn as written, never interpreted."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt

PASS, FAIL, OTHER = "#3b7d4f", "#b8402f", "#b9b2a5"
FONT: Any = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "svg.fonttype": "none",
    "svg.hashsalt": "agentaudit",
    "text.parse_math": False,  # estate text is data: `$…$` must not become math text
    "text.usetex": False,
}


def _svg_data_uri(figure: plt.Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode()).decode()


def status_by_family(
    families: Sequence[str], passed: Sequence[int], failed: Sequence[int], other: Sequence[int]
) -> str:
    with plt.rc_context(FONT):
        # Drawn at about the size it is shown (46 mm high), so 8 pt stays 8 pt on the page.
        figure, axis = plt.subplots(figsize=(5.4, 0.15 * len(families) + 0.6))
        axis.barh(families, passed, color=PASS, label="pass")
        axis.barh(families, failed, left=passed, color=FAIL, label="fail")
        lefts = [p + f for p, f in zip(passed, failed, strict=True)]
        axis.barh(families, other, left=lefts, color=OTHER, label="manual / error / accepted")
        axis.invert_yaxis()
        axis.set_xlabel("results (control × subject)")
        axis.legend(loc="lower left", bbox_to_anchor=(0, 1), frameon=False, ncols=3, borderaxespad=0.2)
        axis.tick_params(axis="y", length=0)
        axis.spines[["top", "right"]].set_visible(False)
        return _svg_data_uri(figure)


def age_histogram(ages_days: Sequence[float], limit_days: int) -> str:
    with plt.rc_context(FONT):
        figure, axis = plt.subplots(figsize=(5.4, 2.0))
        if ages_days:
            axis.hist(list(ages_days), bins=30, color=OTHER, edgecolor="white")
        axis.axvline(limit_days, color=FAIL, linestyle="--", linewidth=1)
        axis.text(limit_days, axis.get_ylim()[1] * 0.9, f"  rotation limit {limit_days} d", color=FAIL)
        axis.set_xlabel("days since last rotation (access keys, client secrets, secrets)")
        axis.set_ylabel("credentials")
        axis.spines[["top", "right"]].set_visible(False)
        return _svg_data_uri(figure)


def owner_gaps_by_unit(units: Sequence[str], counts: Sequence[int]) -> str:
    with plt.rc_context(FONT):
        figure, axis = plt.subplots(figsize=(6.0, max(1.4, 0.28 * len(units) + 0.6)))
        axis.barh(list(units), list(counts), color=FAIL)
        axis.invert_yaxis()
        axis.set_xlabel("identities with an owner gap")
        axis.spines[["top", "right"]].set_visible(False)
        for y, value in enumerate(counts):
            axis.text(value, y, f" {value}", va="center")
        return _svg_data_uri(figure)
