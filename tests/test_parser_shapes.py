"""Wrong shapes at the parser boundary: a collection gap naming the file and the record path (or
exit 2 for register, roster and config), never a traceback. The named probes come from issue 12;
the fuzz tests mutate one field of every registered export shape with a recorded file (Hypothesis) and
feed whole random documents to the register, roster and config readers."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentaudit import pipeline
from agentaudit.collectors import shapes
from agentaudit.collectors.common import load_json
from agentaudit.collectors.exports import read_exports
from agentaudit.collectors.register import load_register, load_roster
from agentaudit.collectors.shapes import sniff
from agentaudit.config import load_config
from agentaudit.errors import InputError
from agentaudit.examples import builder as b
from agentaudit.model.records import SourceStatus

SAMPLE = pipeline.demo_paths()["source"]
ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "111122223333"
AUTH = {"UserDetailList": [], "GroupDetailList": [], "RoleDetailList": [], "Policies": []}
ROLE = {
    "RoleName": "r",
    "RoleId": "AROAEXAMPLE",
    "Arn": f"arn:aws:iam::{ACCOUNT}:role/r",
    "CreateDate": "2024-01-01T00:00:00Z",
    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
    "RolePolicyList": [],
    "AttachedManagedPolicies": [],
}


def _with_role(**changes: Any) -> dict[str, Any]:
    return {**AUTH, "RoleDetailList": [{**ROLE, **changes}]}


def _inline(action: Any) -> dict[str, Any]:
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    policy = {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
    return _with_role(RolePolicyList=[policy])


SP = {"id": "0f0e0d0c-0000-4000-8000-000000000001", "appId": "0f0e0d0c-0000-4000-8000-000000000002",
      "displayName": "svc", "servicePrincipalType": "Application", "accountEnabled": True}  # fmt: skip
KV_SECRET = {"id": "https://v.vault.azure.net/secrets/s", "name": "s", "attributes": {"enabled": True}}
TENANT = "7d3c1e52-9a4b-4c1f-8e2d-5b6a7c8d9e01"

PROBES: list[tuple[str, str, Any, str]] = [
    ("secret-list-text", f"{ACCOUNT}/s.json", {"SecretList": "x"}, "SecretList"),
    ("create-date-1e20", f"{ACCOUNT}/iam.json", _with_role(CreateDate=1e20), "RoleDetailList[0].CreateDate"),
    ("action-number", f"{ACCOUNT}/iam.json", _inline(7), "RoleDetailList[0].RolePolicyList[0].PolicyDocument"),
    ("attached-text", f"{ACCOUNT}/iam.json", _with_role(AttachedManagedPolicies="arn:aws:iam::aws:policy/X"),
     "RoleDetailList[0].AttachedManagedPolicies"),
    ("role-last-used-list", f"{ACCOUNT}/iam.json", _with_role(RoleLastUsed=["x"]), "RoleDetailList[0].RoleLastUsed"),
    ("user-detail-number", f"{ACCOUNT}/iam.json", {**AUTH, "UserDetailList": [5]}, "UserDetailList[0]"),
    ("tags-text", f"{ACCOUNT}/iam.json", _with_role(Tags="owner=ana"), "RoleDetailList[0].Tags"),
    ("sp-item-text", f"{TENANT}/sp.json", [SP, "not-a-principal"], "[1]"),
    ("keyvault-attributes-text", f"{TENANT}/kv.json", [{**KV_SECRET, "attributes": "x"}], "[0].attributes"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "relative", "payload", "where"), PROBES, ids=[p[0] for p in PROBES])
def test_wrong_shape_is_a_gap_naming_file_and_record_path(
    tmp_path: Path, name: str, relative: str, payload: Any, where: str
) -> None:
    path = tmp_path / relative
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(payload))
    collected = read_exports(tmp_path)
    (source,) = collected.sources
    assert source.status == SourceStatus.FAILED, name
    assert source.error is not None and str(path) in source.error and where in source.error, source.error
    assert not collected.identities and not collected.credentials and not collected.grants


def test_a_wrong_shape_is_a_warning_and_the_rest_is_collected(tmp_path: Path) -> None:
    """Through the CLI: exit 0, one warning naming file and path, the other files read."""
    from typer.testing import CliRunner

    from agentaudit.cli import app

    good = tmp_path / ACCOUNT / "iam.json"
    good.parent.mkdir()
    good.write_text(json.dumps(_with_role()))
    (tmp_path / ACCOUNT / "bad.json").write_text(json.dumps(_with_role(RoleLastUsed=["x"])))
    result = CliRunner().invoke(app, ["collect", "--source", str(tmp_path), "--store", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "bad.json (RoleDetailList[0].RoleLastUsed): must be an object, found a list" in result.output


def test_roster_field_over_the_csv_limit_is_exit_2_naming_the_line(tmp_path: Path) -> None:
    roster = tmp_path / "hr.csv"
    roster.write_text(
        "email,name,status,manager\na@example.com,A,active,\nb@example.com," + "x" * 131_073 + ",active,\n"
    )
    with pytest.raises(InputError, match=r"hr.csv \(line 3\): not readable as CSV: field larger than field limit"):
        load_roster(roster)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("profiles: [a, b]\n", "'profiles' must be a mapping"),
        ("profiles:\n  p:\n    allow: [1, {a: b}]\n", "'allow' must be a list of non-empty strings"),
        ("agents:\n  - identity: x\n    business_owner: [a@example.com, b@example.com]\n",
         "'business_owner' must be a single value, not a list"),
        ("agents:\n  - identity: {arn: x}\n", "'identity' must be a single value, not a mapping"),
    ],
    ids=["profiles-list", "allow-not-text", "owner-list", "identity-mapping"],
)  # fmt: skip
def test_register_wrong_shapes_are_one_line_errors(tmp_path: Path, text: str, needle: str) -> None:
    register = tmp_path / "register.yaml"
    register.write_text(text)
    with pytest.raises(InputError, match=needle):
        load_register([register])


# -- fuzzing -----------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


RECORDED = [SAMPLE, ROOT / "tests" / "data"]
# Registered shapes with no recorded file to start from: a CSV (not JSON), a path-only shape (its
# detector never matches content), and a list shape only ever answered live in the tests.
UNSEEDED = {"credential_report_csv", "entra_owners", "azure_keyvaults"}


def _sample_files() -> dict[str, tuple[Path, Path]]:
    """Per registered shape, the first recorded file of that shape (sample estate, then the recorded
    responses under tests/data) with the folder its path is read relative to."""
    seen: dict[str, tuple[Path, Path]] = {}
    for root in RECORDED:
        for path in sorted(root.rglob("*.json")):
            found = sniff(load_json(path))
            if found is not None:
                seen.setdefault(found.name, (root, path))
    return dict(sorted(seen.items()))


SHAPES = _sample_files()


def test_every_registered_shape_is_fuzzed_or_named_as_unseeded() -> None:
    registered = set(shapes.SHAPES)
    assert set(SHAPES) | UNSEEDED == registered, sorted(registered - set(SHAPES) - UNSEEDED)
    assert not set(SHAPES) & UNSEEDED


def _mutate(payload: Any, data: st.DataObject) -> Any:
    """Replace one value somewhere in the payload (or one key's value, or one list item)."""
    root = {"root": copy.deepcopy(payload)}
    parent: Any = root
    key: Any = "root"
    while True:
        value = parent[key]
        children = (
            list(range(len(value))) if isinstance(value, list) else list(value) if isinstance(value, dict) else []
        )
        if not children or data.draw(st.integers(0, 3)) == 0:
            break
        parent, key = value, data.draw(st.sampled_from(children))
    parent[key] = data.draw(JSON)
    return root["root"]


@pytest.mark.parametrize("name", SHAPES)
@given(data=st.data())
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_exports_are_read_or_a_named_gap(tmp_path: Path, name: str, data: st.DataObject) -> None:
    root, sample = SHAPES[name]
    relative = sample.relative_to(root)
    target = tmp_path / "fuzz" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(_mutate(load_json(sample), data)))
    collected = read_exports(tmp_path / "fuzz")  # must not raise
    for source in collected.sources:
        if source.status == SourceStatus.FAILED:
            assert source.error and str(target) in source.error, source.error
    target.unlink()


@given(st.dictionaries(st.sampled_from(["agents", "profiles", "x"]), JSON, max_size=2))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_registers_load_or_are_one_input_error(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "register.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load_register([path])
    except InputError as exc:
        assert str(path) in str(exc)


@given(st.lists(st.lists(st.text(max_size=12), min_size=1, max_size=5).map(lambda cells: ",".join(cells)), max_size=5))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_rosters_load_or_are_one_input_error(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "hr.csv"
    path.write_text("email,name,status,manager\n" + "\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        load_roster(path)
    except InputError as exc:
        assert str(path) in str(exc)


@given(st.dictionaries(st.sampled_from(["thresholds", "tags", "aws", "pack", "organisation", "zz"]), JSON))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fuzzed_configs_load_or_are_one_input_error(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load_config(path)
    except InputError as exc:
        assert str(path) in str(exc)


def test_strict_stores_nothing_when_there_is_a_gap(tmp_path: Path) -> None:
    """What the README says: --strict turns a gap into exit 2 and leaves the store unchanged."""
    import sqlalchemy as sa
    from typer.testing import CliRunner

    from agentaudit.cli import app

    good = tmp_path / "estate" / ACCOUNT / "iam.json"
    good.parent.mkdir(parents=True)
    good.write_text(json.dumps(_with_role()))
    url = f"sqlite:///{tmp_path}/s.db"
    assert CliRunner().invoke(app, ["collect", "--source", str(tmp_path / "estate"), "--store", url]).exit_code == 0
    (good.parent / "bad.json").write_text('{"SecretList": "x"}')
    result = CliRunner().invoke(app, ["collect", "--source", str(tmp_path / "estate"), "--store", url, "--strict"])
    assert result.exit_code == 2, result.output
    assert "bad.json (SecretList): must be a list of objects" in result.output
    assert "nothing was stored" in result.output
    with sa.create_engine(url).connect() as conn:
        assert conn.execute(sa.text("select count(*) from snapshots")).scalar_one() == 1


def test_free_form_objects_are_not_checked_by_field_name() -> None:
    """A Bedrock function parameter named "id" (an object, as the API defines parameters) is a
    tool's parameter, not a field called id: the demo lost every such action group to this."""
    from agentaudit.collectors.validate import check_shape

    group = {
        "agentActionGroup": {"functionSchema": {"functions": [{"name": "f", "parameters": {"id": {"type": "string"}}}]}}
    }
    check_shape(group)
    with pytest.raises(ValueError, match=r"agentActionGroup\.actionGroupId"):
        check_shape({"agentActionGroup": {"actionGroupId": {"x": 1}}})


def test_a_credential_report_at_iams_user_quota_is_read_whole_and_a_larger_field_is_a_gap() -> None:
    """5,000 users (IAM's quota per account) with long names: 1.8 million characters of base64,
    past the old one-million limit that turned every such account's report into a gap."""
    from agentaudit.collectors.validate import MAX_TEXT, check_shape

    created = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [b.report_row("210987654321", f"svc-{i:04d}-" + "x" * 40, created, [(True, created, created)] * 2)
            for i in range(5000)]  # fmt: skip
    report = b.credential_report(rows, created)
    assert len(report["Content"]) > 1_500_000
    check_shape(report)
    with pytest.raises(ValueError, match=r"Content: .* characters of text"):
        check_shape({**report, "Content": "A" * (MAX_TEXT + 1)})
