"""Crafted registers, configs and exports: refused in one line naming file and place, quickly,
never expanded, never silently read as something else."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentaudit.cli import app
from agentaudit.collectors.aws_services import parse_action_group
from agentaudit.collectors.exports import read_exports
from agentaudit.collectors.register import load_register, load_roster
from agentaudit.config import load_config
from agentaudit.errors import InputError


def _alias_bomb(levels: int = 9) -> str:
    """Nested anchors, each level nine references to the one before: 9**9 leaves when expanded."""
    lines = ["&a0 [x, x, x, x, x, x, x, x, x]"]
    for n in range(1, levels):
        lines.append(f"&a{n} [{', '.join([f'*a{n - 1}'] * 9)}]")
    return "[" + ", ".join(lines) + "]"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("register.yaml", "profiles:\n  p:\n    allow: {bomb}\n"),
        ("register.yaml", "agents:\n  - identity: x\n    purpose: {bomb}\n"),
        ("policy.yaml", "risky_tool_words: {bomb}\n"),
    ],
    ids=["register-profile-allow", "register-agent-purpose", "config-list"],
)
def test_yaml_alias_bomb_inside_a_value_is_refused_at_once(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text.replace("{bomb}", _alias_bomb()))
    started = time.monotonic()
    with pytest.raises(InputError, match=r"alias \*a0 is not accepted") as caught:
        if name == "policy.yaml":
            load_config(path)
        else:
            load_register([path])
    assert time.monotonic() - started < 2
    assert str(path) in str(caught.value) and "line " in str(caught.value)


def test_yaml_alias_in_an_inline_openapi_schema_is_a_parse_error_not_an_expansion() -> None:
    group = {
        "agentActionGroup": {
            "actionGroupId": "G1",
            "actionGroupName": "g",
            "apiSchema": {"payload": "paths: " + _alias_bomb()},
        }
    }
    started = time.monotonic()
    with pytest.raises(InputError, match="alias"):
        parse_action_group(group, "aws:111122223333:agent", "g.json", "g.json")
    assert time.monotonic() - started < 2


def test_duplicate_yaml_keys_are_refused_naming_both_lines(tmp_path: Path) -> None:
    register = tmp_path / "register.yaml"
    register.write_text("agents:\n  - identity: x\n    purpose: first\n    purpose: second\n")
    with pytest.raises(InputError, match=r"line 4\): not valid YAML: duplicate key 'purpose' \(first on line 3\)"):
        load_register([register])
    config = tmp_path / "policy.yaml"
    config.write_text("thresholds:\n  key_max_age_days: 30\n  key_max_age_days: 900\n")
    result = CliRunner().invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 2 and "duplicate key 'key_max_age_days'" in result.output


def test_duplicate_csv_columns_are_refused(tmp_path: Path) -> None:
    register = tmp_path / "register.csv"
    register.write_text("identity,business_owner,business_owner\nx,a@example.com,b@example.com\n")
    with pytest.raises(InputError, match=r"register.csv \(header\): column 'business_owner' appears twice"):
        load_register([register])
    roster = tmp_path / "hr.csv"
    roster.write_text("email,name,status,Status\na@example.com,A,active,leaver\n")
    with pytest.raises(InputError, match=r"hr.csv \(header\): column 'status' appears twice"):
        load_roster(roster)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"SecretList": [{"ARN": "a", "Name": "x", "Name": "y"}]}', "duplicate key 'Name'"),
        ('{"SecretList": [{"ARN": "a", "Name": "x", "CreatedDate": NaN}]}', "NaN is not a JSON number"),
        ('{"SecretList": [{"ARN": "a", "Name": "x", "CreatedDate": -Infinity}]}', "-Infinity is not a JSON number"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
    ids=["duplicate-key", "nan", "infinity", "deep-array"],
)
def test_json_exports_that_python_would_misread_are_a_named_gap(tmp_path: Path, text: str, needle: str) -> None:
    (tmp_path / "111122223333").mkdir()
    path = tmp_path / "111122223333" / "secrets.json"
    path.write_text(text)
    collected = read_exports(tmp_path)
    (source,) = collected.sources
    assert source.status == "failed"
    assert needle in (source.error or ""), source.error
    assert any(str(path) in w and needle in w for w in collected.warnings), collected.warnings


def test_a_good_file_beside_a_duplicate_key_file_is_still_read(tmp_path: Path) -> None:
    good = {"SecretList": [{"ARN": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf", "Name": "db"}]}
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_text('{"SecretList": [], "SecretList": [{"ARN": "x"}]}')
    collected = read_exports(tmp_path)
    assert sorted(s.status.value for s in collected.sources) == ["complete", "failed"]
    assert [c.name for c in collected.credentials] == ["db"]
