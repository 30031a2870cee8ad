"""Bedrock AgentCore (issue 11 §1): saved `bedrock-agentcore-control` outputs on the shapes of
botocore's service model, through the real store, every AGC rule with pass, fail and boundary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agentaudit import pipeline
from agentaudit.collectors.exports import read_exports
from agentaudit.config import load_config
from agentaudit.model.store import Store
from tests.conftest import AS_OF, DATA, evidence_of, status_of

ACCOUNT = "123456789012"
FOLDER = DATA / "aws_agents" / "agentcore"
RUNTIME = f"aws:{ACCOUNT}:arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:runtime/weather-agent-Ab12Cd34Ef"
GATEWAY = f"aws:{ACCOUNT}:arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:gateway/weather-gw-a1b2c3d4e5"
WORKLOAD = (
    f"aws:{ACCOUNT}:arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:"
    "workload-identity-directory/default/workload-identity/weather_agent-x1y2"
)
PROVIDERS = f"aws:{ACCOUNT}:arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:token-vault/default/"


def run(folder: Path, tmp_path: Path) -> pd.DataFrame:
    store = Store(f"sqlite:///{tmp_path / 'agentcore.db'}")
    config = load_config()
    collected = pipeline.collect(folder, store, config)
    return pipeline.check(store, config, AS_OF, collected.snapshot_id).evaluation.findings


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return run(FOLDER, tmp_path_factory.mktemp("agentcore"))


def test_exports_model_runtime_gateway_tools_and_providers() -> None:
    out = read_exports(FOLDER)
    assert [(s.name, s.error) for s in out.sources if s.status != "complete"] == []
    kinds = {i.uid: i for i in out.identities}
    runtime, gateway = kinds[RUNTIME], kinds[GATEWAY]
    assert runtime.links == (f"aws:{ACCOUNT}:arn:aws:iam::{ACCOUNT}:role/AgentCoreRuntimeRole-weather",)
    assert runtime.tags["business-owner"] == "ana@example.com"  # its own tags, from the folder name
    assert runtime.attributes["secret_env_vars"] == ["OPENWEATHER_API_KEY"]
    assert "never-stored" not in json.dumps([r.attributes for r in out.identities])  # names only
    assert gateway.attributes["authorizer_type"] == "NONE"
    assert sorted(t.name for t in out.tools) == ["calendar", "forecast-api"]
    assert {t.agent_uid for t in out.tools} == {GATEWAY}
    providers = {c.name: c for c in out.credentials if c.store == "agentcore"}
    assert providers["github"].attributes["secret_arn"].endswith("oauth2/github-GhIjKl")


def test_runtime_env_secrets_and_gateway_rules(findings: pd.DataFrame) -> None:
    assert status_of(findings, "AGC-001", RUNTIME) == "fail"
    assert evidence_of(findings, "AGC-001", RUNTIME)["secret_env_vars"] == ["OPENWEATHER_API_KEY"]
    assert status_of(findings, "AGC-002", GATEWAY) == "fail"
    assert evidence_of(findings, "AGC-002", GATEWAY)["exposed_tools"] == ["calendar", "forecast-api"]
    assert status_of(findings, "AGC-003", GATEWAY) == "fail"  # LOG_ONLY does not enforce
    forecast, calendar = f"{GATEWAY}/target/FCASTTGT01", f"{GATEWAY}/target/CALTGT0002"
    assert status_of(findings, "AGC-004", forecast) == "fail" and status_of(findings, "AGC-004", calendar) == "pass"
    assert status_of(findings, "AGC-005", forecast) == "pass" and status_of(findings, "AGC-005", calendar) == "fail"
    assert status_of(findings, "AGC-006", WORKLOAD) == "fail"
    assert evidence_of(findings, "AGC-006", WORKLOAD)["not_https"] == ["http://localhost:8080/callback"]
    # The API-key secret last changed in February (> 90 days before AS_OF); GitHub's in November.
    assert status_of(findings, "AGC-007", PROVIDERS + "apikeycredentialprovider/openweather") == "fail"
    assert status_of(findings, "AGC-007", PROVIDERS + "oauth2credentialprovider/github") == "pass"
    # Own tags give the runtime its owners; the execution role was not exported: unknown, not clean.
    assert status_of(findings, "OWN-001", RUNTIME) == "pass"
    assert status_of(findings, "ACC-001", RUNTIME) == "error"


def _edit(folder: Path, relative: str, **changes: Any) -> None:
    path = folder / ACCOUNT / relative
    payload = json.loads(path.read_text())
    for key, value in changes.items():
        if value is None:
            payload.pop(key, None)
        else:
            payload[key] = value
    path.write_text(json.dumps(payload))


def test_fixed_surface_passes_and_boundaries(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    shutil.copytree(FOLDER, folder)
    runtime = "runtimes/weather-agent-Ab12Cd34Ef/get-agent-runtime.json"
    # Boundary: a name that merely contains KEY (not API_KEY) is not a secret.
    _edit(folder, runtime, environmentVariables={"LOG_LEVEL": "INFO", "CACHE_KEYSPACE": "weather"})
    engine = {"arn": f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:policy-engine/p", "mode": "ENFORCE"}
    gateway = "gateways/weather-gw-a1b2c3d4e5/get-gateway.json"
    _edit(folder, gateway, authorizerType="CUSTOM_JWT", policyEngineConfiguration=engine)
    _edit(folder, "identity/get-workload-identity.json", allowedResourceOauth2ReturnUrls=["https://app.example.com/cb"])
    findings = run(folder, tmp_path)
    assert status_of(findings, "AGC-001", RUNTIME) == "pass"
    assert status_of(findings, "AGC-002", GATEWAY) == "pass"
    assert status_of(findings, "AGC-003", GATEWAY) == "pass"
    assert status_of(findings, "AGC-006", WORKLOAD) == "pass"


def test_missing_inputs_are_errors_not_passes(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    shutil.copytree(FOLDER, folder)
    for name in ("get-api-key-credential-provider.json", "get-oauth2-credential-provider.json"):
        (folder / ACCOUNT / "identity" / name).unlink()
    (folder / ACCOUNT / "list-secrets.json").unlink()
    _edit(folder, "gateways/weather-gw-a1b2c3d4e5/get-gateway.json", policyEngineConfiguration=None)
    findings = run(folder, tmp_path)
    assert status_of(findings, "AGC-005", f"{GATEWAY}/target/FCASTTGT01") == "error"  # providers not collected
    assert status_of(findings, "AGC-003", GATEWAY) == "fail"  # boundary: no policy engine at all fails
    assert evidence_of(findings, "AGC-003", GATEWAY)["why"] == "no policy engine attached"
