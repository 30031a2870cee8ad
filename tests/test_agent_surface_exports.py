"""Saved exports of the agent surface (issue 11 §4), on documented CLI shapes: tag lists that do
not name their resource (the id comes from the file or folder name), get-resource-policy,
list-service-specific-credentials, list-agents, and one certificate seen by list and describe."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from agentaudit.collectors.exports import read_exports
from tests.conftest import DATA

EXPORTS = DATA / "aws_agents" / "exports"
ACCOUNT = "123456789012"


def test_tags_policy_keys_and_agent_list_join_their_records() -> None:
    out = read_exports(EXPORTS)
    assert [(s.name, s.error) for s in out.sources if s.status != "complete"] == []
    agents = {i.name: i for i in out.identities if i.kind == "aws_bedrock_agent"}
    assert set(agents) == {"claims-helper", "listed-only"}  # list-agents adds only what get-agent lacks
    helper = agents["claims-helper"]
    assert helper.tags == {"business-owner": "Ana.Silva@example.com", "purpose": "Drafts claim assessments"}
    assert helper.attributes["guardrail"] == "gr-abc123def456"
    listed = agents["listed-only"]
    assert listed.links == () and "guardrail" not in listed.attributes  # unknown, not "none"

    certificates = [c for c in out.credentials if c.store == "acm"]
    assert len(certificates) == 1  # list-certificates + describe-certificate: one certificate
    assert certificates[0].attributes["key_algorithm"] == "RSA_1024"  # describe wins
    assert certificates[0].tags["owner"] == "ops-lead@example.com"

    secret = next(c for c in out.credentials if c.store == "secretsmanager")
    assert secret.attributes["resource_policy"] is True
    assert secret.attributes["open_statements"] == ["Statement[0]"]
    assert secret.attributes["rotation_signal"] == "LastChangedDate"

    keys = {c.native_id: c for c in out.credentials if c.store == "iam"}
    bedrock = keys["ACCAEXAMPLE111EXAMPLE"]
    assert (bedrock.type, bedrock.enabled, bedrock.expires) == ("api_key", True, None)
    assert bedrock.identity_uid == f"aws:{ACCOUNT}:arn:aws:iam::{ACCOUNT}:user/bedrock-caller"
    assert keys["ACCAEXAMPLE222EXAMPLE"].type == "service_credential"


def test_tags_whose_resource_cannot_be_told_are_a_recorded_gap(tmp_path: Path) -> None:
    root = tmp_path / "export"
    shutil.copytree(EXPORTS, root)
    (root / ACCOUNT / "bedrock" / "stray-tags.json").write_text(json.dumps({"tags": {"owner": "x@example.com"}}))
    out = read_exports(root)
    failed = {s.name: s.error for s in out.sources if s.status != "complete"}
    assert list(failed) == [f"{ACCOUNT}/bedrock/stray-tags.json"]
    assert "folder named by that id" in str(failed)
    assert any(i.name == "claims-helper" and i.tags for i in out.identities)  # the rest is read


def test_api_keys_outside_an_account_folder_are_a_recorded_gap(tmp_path: Path) -> None:
    shutil.copy(EXPORTS / ACCOUNT / "list-service-specific-credentials.json", tmp_path / "keys.json")
    out = read_exports(tmp_path)
    assert [s.status for s in out.sources] == ["failed"]
    assert "12-digit account id" in str(out.sources[0].error)


def test_policy_of_an_unlisted_secret_is_a_recorded_gap(tmp_path: Path) -> None:
    folder = tmp_path / ACCOUNT
    folder.mkdir()
    shutil.copy(EXPORTS / ACCOUNT / "secrets" / "get-resource-policy.json", folder / "policy.json")
    out = read_exports(tmp_path)
    assert [s.status for s in out.sources] == ["failed"]
    assert "which no list-secrets output" in str(out.sources[0].error)
