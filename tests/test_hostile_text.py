"""Estate text is data: tag values, names and owners are drawn and written as given, never interpreted."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentaudit.cli import app
from agentaudit.output import charts

HOSTILE_LABELS = ["Ops $_$", r"$\frac{a}{b}$", "Fin $x^2$ & <R&D>", "$", "a$b$c$"]


def _svg(data_uri: str) -> str:
    return base64.b64decode(data_uri.split(",", 1)[1]).decode()


@pytest.mark.parametrize("label", HOSTILE_LABELS)
def test_chart_labels_with_dollar_signs_are_drawn_literally(label: str) -> None:
    svg = _svg(charts.owner_gaps_by_unit([label, "plain"], [3, 1]))
    escaped = label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in svg
    assert _svg(charts.status_by_family([label], [1], [2], [0]))


def _tiny_estate(folder: Path, unit: str) -> Path:
    """One unowned role tagged with a business unit: it lands in the owner-gap chart."""
    folder.mkdir()
    role = {
        "Path": "/",
        "RoleName": "etl-runner",
        "RoleId": "AROAEXAMPLEETL0000001",
        "Arn": "arn:aws:iam::210987654321:role/etl-runner",
        "CreateDate": "2024-03-01T10:00:00+00:00",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        "Tags": [{"Key": "business-unit", "Value": unit}],
    }
    doc = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [role], "Policies": []}
    (folder / "iam.json").write_text(json.dumps(doc))
    return folder


def test_business_unit_tag_with_math_text_still_gives_a_signed_pack(tmp_path: Path) -> None:
    source = _tiny_estate(tmp_path / "estate", "Ops $_$")
    store = f"sqlite:///{tmp_path / 'a.db'}"
    result = CliRunner().invoke(app, ["run", "--source", str(source), "--store", store, "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip().splitlines()[-1])
    assert (folder / "review-pack.pdf").is_file()
    text = subprocess.run(
        ["pdftotext", str(folder / "review-pack.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Ops $_$" in text
