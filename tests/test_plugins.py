"""Custom controls through entry points, and the catalog's fail-fast validation."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentaudit.config import load_config
from agentaudit.controls.catalog import load_catalog, parse_catalog
from agentaudit.controls.plugins import Plugin, merge
from agentaudit.controls.registry import load_builtin_checks
from agentaudit.errors import InputError
from tests.conftest import read_findings

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "agentaudit-example-controls"
THRESHOLDS = set(load_config().thresholds)


def _entry(**changes: Any) -> dict[str, Any]:
    base = {
        "id": "EXT-900",
        "title": "t",
        "family": "PUR",
        "severity": "low",
        "applies_to": "agents",
        "why": "w",
        "remediation": "r",
        "parameters": [],
        "mappings": {"soc2_tsc": ["CC6.1"]},
        "needs": [],
    }
    return {**base, **changes}


def _merge(*entries: dict[str, Any], checks: dict[str, Any] | None = None) -> None:
    catalog = load_catalog(THRESHOLDS)
    ids = [e["id"] for e in entries]
    given = checks if checks is not None else {i: (lambda ctx: None) for i in ids}
    merge(
        catalog,
        dict(load_builtin_checks()),
        [Plugin("demo", "control plug-in demo", {"controls": list(entries), "checks": given})],
        THRESHOLDS,
    )


def test_plugin_controls_merge_with_unmapped_frameworks_as_empty() -> None:
    catalog = load_catalog(THRESHOLDS)
    checks = dict(load_builtin_checks())
    merge(catalog, checks, [Plugin("demo", "p", {"controls": [_entry()], "checks": {"EXT-900": len}})], THRESHOLDS)
    assert catalog.controls["EXT-900"].mappings["soc2_tsc"] == ("CC6.1",)
    assert catalog.controls["EXT-900"].mappings["nist_800_53_r5"] == ()
    assert checks["EXT-900"] is len


@pytest.mark.parametrize(
    ("entry", "checks", "message"),
    [
        (_entry(parameters=["no_such_threshold"]), None, "unknown parameter"),
        (_entry(id="OWN-001"), None, "duplicate control id"),
        (_entry(mappings={"pci_dss": ["8.3"]}), None, "unknown framework"),
        (_entry(severity="urgent"), None, "unknown severity"),
        (_entry(colour="red"), None, "unknown colour"),
        ({k: v for k, v in _entry().items() if k != "needs"}, None, "missing needs"),
        (_entry(needs=["cloud_logs"]), None, "unknown input kind 'cloud_logs'"),
        (_entry(needs="credential_report"), None, "needs must be a list"),
        (_entry(needs=[{"input": "credential_report", "subjects": []}]), None, "non-empty list"),
        (_entry(), {}, "one function for each of its control ids"),
    ],
)
def test_plugin_mistakes_fail_fast_naming_the_plugin(entry: dict[str, Any], checks: Any, message: str) -> None:
    with pytest.raises(InputError) as caught:
        _merge(entry, checks=checks)
    assert "control plug-in demo" in str(caught.value) and message in str(caught.value)


def test_catalog_mistakes_fail_fast() -> None:
    text = (ROOT / "agentaudit" / "controls" / "catalog.yaml").read_text()
    data = yaml.safe_load(text)
    duplicate = copy.deepcopy(data)
    duplicate["controls"].append(copy.deepcopy(data["controls"][0]))
    with pytest.raises(InputError, match="duplicate control id OWN-001"):
        parse_catalog(duplicate, "catalog.yaml", THRESHOLDS)
    unknown = copy.deepcopy(data)
    unknown["controls"][0]["mappings"]["hipaa"] = ["164.308"]
    with pytest.raises(InputError, match="unknown: \\['hipaa'\\]"):
        parse_catalog(unknown, "catalog.yaml", THRESHOLDS)


def test_example_plugin_control_appears_in_findings_and_pack(tmp_path: Path) -> None:
    """Installed for real (pip into a private folder on PYTHONPATH), used through the CLI."""
    target = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "agentaudit", "run", "--demo", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    folder = Path(run.stdout.strip().splitlines()[-1])
    findings = read_findings(folder)
    ext = [f for f in findings if f["control_id"] == "EXT-001"]
    assert ext and {f["status"] for f in ext} == {"fail"}  # no sample agent carries the tag
    text = subprocess.run(["pdftotext", str(folder / "review-pack.pdf"), "-"], capture_output=True, text=True).stdout
    assert "EXT-001" in text and "data-classification" in text
