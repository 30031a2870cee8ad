"""The demo run end to end: the contract other tools rely on, and the sample estate's planted gaps."""

from __future__ import annotations

import csv
import gzip
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import read_findings, read_jsonl

REQUIRED = {"control_id", "status", "severity", "subject_uid", "native_id", "identity_name", "owner", "evidence"}


def _fails(findings: list[dict[str, Any]], name: str) -> set[str]:
    return {f["control_id"] for f in findings if f["identity_name"] == name and f["status"] == "fail"}


def test_contract_last_line_is_result_folder_with_findings(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "agentaudit", "run", "--demo", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    folder = Path(done.stdout.strip().splitlines()[-1])
    assert folder.is_dir() and folder.parent.parent == tmp_path
    findings = read_findings(folder)
    assert isinstance(findings, list) and findings
    assert all(set(f) >= REQUIRED for f in findings)
    assert (folder / "findings.csv.gz").is_file()


def test_sample_estate_size(demo_run: dict[str, Any]) -> None:
    summary = json.loads((demo_run["folder"] / "summary.json").read_text())
    assert summary["records"]["identities"] >= 120
    ids = {f["subject_uid"] for f in demo_run["findings"] if f["control_id"] == "MON-001"}
    agents = {f["subject_uid"] for f in demo_run["findings"] if f["control_id"] == "OWN-001"}
    assert len(ids) >= 120 and len(agents) >= 25


@pytest.mark.parametrize(
    ("key", "control"),
    [
        ("agent_without_business_owner", "OWN-001"),
        ("agent_owned_by_leaver", "OWN-004"),
        ("agent_without_purpose", "PUR-001"),
        ("agent_without_profile", "PUR-002"),
        ("admin_agent_role", "ACC-001"),
        ("admin_role", "ACC-001"),
        ("wildcard_role", "ACC-003"),
        ("drift_role", "ACC-002"),
        ("privesc_role", "ACC-004"),
        ("stale_key_user", "LC-001"),
        ("two_keys_user", "LC-007"),
        ("unused_role", "ACC-005"),
        ("unused_entra_app", "ACC-005"),
        ("unused_key_user", "LC-008"),
        ("open_trust_role", "ACC-006"),
        ("oidc_trust_role", "ACC-006"),
        ("expired_certificate", "LC-003"),
        ("expiring_certificate", "LC-004"),
        ("secret_rotation_off", "LC-006"),
        ("expired_client_secret_app", "LC-003"),
        ("expiring_client_secret_app", "LC-004"),
        ("long_lived_client_secret_app", "LC-005"),
        ("keyvault_secret_without_expiry", "LC-002"),
        ("azure_owner_agent", "ACC-001"),
        ("console_user", "ACC-007"),
        ("shared_execution_role", "ACC-008"),
        ("stale_key_user", "LC-009"),
        ("agent_without_guardrail", "AGT-001"),
        ("confused_deputy_role", "ACC-010"),
        ("open_secret_policy", "LC-010"),
        ("weak_certificate_key", "LC-011"),
        ("secret_rotation_not_done", "LC-006"),
        ("certificate_without_owner", "OWN-005"),
        ("certificate_owner_left", "OWN-006"),
        ("runtime_env_secret", "AGC-001"),
        ("gateway_not_enforcing", "AGC-003"),
        ("directory_admin_app", "ACC-012"),
    ],
)
def test_planted_gap_is_found(demo_run: dict[str, Any], planted: dict[str, str], key: str, control: str) -> None:
    assert control in _fails(demo_run["findings"], planted[key])


def test_certificate_owner_and_purpose_come_from_their_tag_exports(demo_run: dict[str, Any]) -> None:
    """The sample's ACM certificates carry saved list-tags-for-certificate outputs: OWN-005/PUR-003
    judge them (no `error` for want of tags), and only the planted ones fail."""
    every = pd.read_parquet(demo_run["folder"] / "findings.parquet")
    certs = every[
        every["control_id"].isin(["OWN-005", "OWN-006", "PUR-003"]) & every["native_id"].str.contains(":certificate/")
    ]
    rows = list(zip(certs["identity_name"], certs["control_id"], certs["status"], strict=True))
    assert len({name for name, _c, _s in rows}) == 4, rows
    assert not [r for r in rows if r[2] == "error"], rows
    assert sorted((n, c) for n, c, s in rows if s == "fail") == [
        ("partners.halcyon.example", "OWN-006"),
        ("track.halcyon.example", "OWN-005"),
    ]


def test_ungated_tools_and_unknown_schema(demo_run: dict[str, Any], planted: dict[str, str]) -> None:
    by_tool: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for f in demo_run["findings"]:
        if f["subject_type"] == "tool":
            by_tool[f["identity_name"]].add((f["control_id"], f["status"]))

    def results(tool: str) -> set[tuple[str, str]]:
        return set().union(*(v for k, v in by_tool.items() if k.endswith("/" + tool)))

    assert ("TOOL-003", "fail") in results(planted["ungated_tool"])
    assert ("TOOL-002", "fail") in results(planted["ungated_email_tool"])
    assert ("TOOL-004", "manual") in results(planted["unknown_tool_schema"])


def test_account_without_data_event_logging(demo_run: dict[str, Any], planted: dict[str, str]) -> None:
    account = planted["account_without_data_events"]
    assert "MON-002" in _fails(demo_run["findings"], f"AWS account {account}")
    assert "MON-002" not in _fails(demo_run["findings"], "AWS account 111122223333")


def test_unmatched_register_entry_is_a_gap(demo_run: dict[str, Any], planted: dict[str, str]) -> None:
    assert "COL-002" in _fails(demo_run["findings"], planted["unmatched_register_entry"])


def test_clean_identities_pass_everything_but_attestation(demo_run: dict[str, Any], planted: dict[str, str]) -> None:
    """Nothing is attested before owners return the workbooks this very pack issues."""
    for name in (planted["clean_agent"], planted["clean_role"]):
        rows = [f for f in demo_run["findings"] if f["identity_name"] == name]
        assert rows, name
        statuses = {f["control_id"]: f["status"] for f in rows}
        assert statuses.pop("ATT-001") == "fail"
        assert set(statuses.values()) == {"pass"}, statuses


def test_findings_route_to_owners_and_carry_evidence(demo_run: dict[str, Any]) -> None:
    stale = [f for f in demo_run["findings"] if f["control_id"] == "LC-001" and f["status"] == "fail"]
    legacy = next(f for f in stale if f["identity_name"] == "svc-legacy-billing")
    assert legacy["owner"] == "ben.okafor@halcyon.example"
    assert legacy["evidence"]["age_days"] >= 400 and legacy["evidence"]["threshold_days"] == 90
    assert legacy["native_id"].startswith("arn:aws:iam::111122223333:user/svc-legacy-billing")


def test_csv_and_json_lines_hold_the_results_needing_action(demo_run: dict[str, Any]) -> None:
    acting = [f for f in demo_run["findings"] if f["status"] not in ("pass", "not_applicable")]
    assert len(acting) < len(demo_run["findings"])  # findings.parquet holds the passes too
    with gzip.open(demo_run["folder"] / "findings.csv.gz", "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["control_id"], r["subject_uid"], r["status"]) for r in rows] == [
        (f["control_id"], f["subject_uid"], f["status"]) for f in acting
    ]
    assert read_jsonl(demo_run["folder"] / "findings.jsonl.gz") == acting


def test_fail_on_exit_code(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agentaudit.cli import app

    result = CliRunner().invoke(app, ["run", "--demo", "--out", str(tmp_path), "--fail-on", "critical"])
    assert result.exit_code == 1
    assert Path(result.stdout.strip().splitlines()[-1]).is_dir()


def test_risk_acceptances_show_as_accepted_until_they_expire(demo_run: dict[str, Any], planted: dict[str, str]) -> None:
    def result(name: str, control: str) -> dict[str, Any]:
        return next(f for f in demo_run["findings"] if f["identity_name"] == name and f["control_id"] == control)

    accepted = result(planted["accepted_risk_agent"], "OWN-004")
    assert accepted["status"] == "accepted"
    assert accepted["evidence"]["risk_acceptance"]["approver"] == "ana.silva@halcyon.example"
    assert accepted["evidence"]["risk_acceptance"]["active"] is True
    expired = result(planted["expired_acceptance_agent"], "PUR-001")
    assert expired["status"] == "fail" and expired["evidence"]["risk_acceptance"]["active"] is False


def test_demo_policy_classifies_accounts_and_finds_the_cross_environment_role(
    demo_run: dict[str, Any], planted: dict[str, str]
) -> None:
    results = [f for f in demo_run["findings"] if f["control_id"] == "ACC-009"]
    failing = {f["identity_name"] for f in results if f["status"] == "fail"}
    assert failing == {planted["cross_environment_role"]}
    evidence = next(f["evidence"] for f in results if f["status"] == "fail")["environments"]
    assert evidence == {"production": ["111122223333 (grant)"], "non_production": ["444455556666 (home)"]}
    summary = json.loads((demo_run["folder"] / "summary.json").read_text())
    assert summary["controls"][[c["control_id"] for c in summary["controls"]].index("ACC-009")]["evaluated"]
