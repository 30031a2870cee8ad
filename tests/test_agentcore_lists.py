"""Saved `bedrock-agentcore-control list-…` outputs (issue 11 §4), on the shapes of botocore's
service model: recognised by shape, joined with the `get-…` outputs of the same folder (one record
each), the ids a list lacks taken from the folder names, and every field only a `get-…` reports left
unknown, so the rules that need it say `error`, never pass."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from agentaudit import pipeline
from agentaudit.collectors.exports import read_exports
from agentaudit.config import load_config
from agentaudit.model.store import Store
from tests.conftest import AS_OF, DATA, evidence_of, status_of

ACCOUNT = "123456789012"
ARN = f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}"
WEATHER = f"aws:{ACCOUNT}:{ARN}:runtime/weather-agent-Ab12Cd34Ef"
BILLING = f"aws:{ACCOUNT}:{ARN}:runtime/billing-agent-Zz98Yy76Xx"
WEATHER_GW = f"aws:{ACCOUNT}:{ARN}:gateway/weather-gw-a1b2c3d4e5"
BILLING_GW = f"aws:{ACCOUNT}:{ARN}:gateway/billing-gw-f6g7h8i9j0"
SALESFORCE = f"aws:{ACCOUNT}:{ARN}:token-vault/default/oauth2credentialprovider/salesforce"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The get- outputs of tests/data/aws_agents/agentcore plus the list- outputs beside them."""
    root = tmp_path_factory.mktemp("lists") / "export"
    shutil.copytree(DATA / "aws_agents" / "agentcore", root)
    shutil.copytree(DATA / "aws_agents" / "agentcore_lists", root, dirs_exist_ok=True)
    return root


@pytest.fixture(scope="module")
def findings(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('db') / 's.db'}")
    collected = pipeline.collect(folder, store, load_config())
    return pipeline.check(store, load_config(), AS_OF, collected.snapshot_id).evaluation.findings


def test_list_outputs_are_recognised_and_joined_with_get_outputs(folder: Path) -> None:
    out = read_exports(folder)
    assert [(s.name, s.error) for s in out.sources if s.status != "complete"] == []
    shapes = {Path(s.name).name: s.kind for s in out.sources}
    assert shapes["list-agent-runtimes.json"] == "agentcore_runtimes"
    assert shapes["list-gateways.json"] == shapes["list-gateway-targets.json"] == "agentcore_gateways"
    assert shapes["list-oauth2-credential-providers.json"] == "agentcore_credential_providers"
    by_uid = {i.uid: i for i in out.identities}
    # One record per runtime/gateway: the get- output's, never a second from the list.
    assert [i.uid for i in out.identities].count(WEATHER) == 1 and [i.uid for i in out.identities].count(
        WEATHER_GW
    ) == 1
    assert by_uid[WEATHER].links  # the get- output's record, with its execution role
    billing = by_uid[BILLING]
    assert billing.links == () and billing.agent_reason.endswith("(list-agent-runtimes only)")
    assert billing.tags["business-owner"] == "bo@example.com"  # its tags, by the folder name
    gateway = by_uid[BILLING_GW]  # no ARN in list-gateways: account and region from the folders
    assert gateway.attributes == {"authorizer_type": "CUSTOM_JWT", "gateway_id": "billing-gw-f6g7h8i9j0"}
    tools = sorted((t.agent_uid, t.name) for t in out.tools)
    assert (BILLING_GW, "invoices") in tools and (BILLING_GW, "refunds") in tools
    assert sorted(n for a, n in tools if a == WEATHER_GW) == ["calendar", "forecast-api"]  # get- outputs, once
    providers = [c for c in out.credentials if c.store == "agentcore"]
    assert sorted(c.name for c in providers) == ["github", "openweather", "salesforce"]


def test_rules_judge_what_a_list_reports_and_say_error_for_the_rest(findings: pd.DataFrame) -> None:
    assert status_of(findings, "AGC-001", BILLING) == "error"  # environment only in get-agent-runtime
    assert status_of(findings, "ACC-001", BILLING) == "error"  # execution role unknown
    assert status_of(findings, "OWN-001", BILLING) == "pass"
    assert status_of(findings, "AGC-002", BILLING_GW) == "pass"  # authorizerType is in the list
    assert status_of(findings, "AGC-003", BILLING_GW) == "error"  # policy engine only in get-gateway
    refunds = f"{BILLING_GW}/target/REFUND4567"
    assert status_of(findings, "AGC-004", refunds) == "error" and status_of(findings, "AGC-005", refunds) == "error"
    assert status_of(findings, "AGC-007", SALESFORCE) == "error"
    assert "listed only" in evidence_of(findings, "AGC-007", SALESFORCE)["note"]


def test_targets_list_without_a_gateway_id_in_its_name_is_a_gap_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "export" / ACCOUNT
    folder.mkdir(parents=True)
    (folder / "targets.json").write_text(json.dumps({"items": [{"targetId": "T1", "name": "t"}]}))
    out = read_exports(tmp_path / "export")
    failed = [s for s in out.sources if s.status == "failed"]
    assert len(failed) == 1 and "which gateway these targets belong to" in (failed[0].error or "")
    assert failed[0].name.endswith("targets.json") and not out.tools


def test_list_gateways_outside_an_account_folder_is_a_gap(tmp_path: Path) -> None:
    (tmp_path / "list-gateways.json").write_text(json.dumps({"items": [{"gatewayId": "g1", "authorizerType": "NONE"}]}))
    out = read_exports(tmp_path)
    assert [s.status for s in out.sources] == ["failed"]
    assert "folder named by the 12-digit account id" in (out.sources[0].error or "")
