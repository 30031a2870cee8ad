"""No credential printed, and the files holding secrets are private: the store (campaign HMAC
secrets) is created 0600, and a signing key others can read is warned about."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentaudit import pipeline
from agentaudit.cli import app
from agentaudit.config import load_config
from agentaudit.errors import redact_urls
from agentaudit.model.store import Store
from agentaudit.output.signing import ensure_demo_identity


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://alice:S3cretPW@127.0.0.1:1/agentaudit",  # nothing listening
        "postgresql+psycopg://alice:S3cretPW@127.0.0.1:notaport/agentaudit",  # not parseable
        "nosuchdriver://alice:S3cretPW@db.example/agentaudit",  # unknown dialect
    ],
    ids=["refused", "bad-port", "unknown-driver"],
)
def test_store_errors_never_print_the_password(url: str) -> None:
    result = CliRunner().invoke(app, ["check", "--store", url])
    assert result.exit_code == 2, result.output
    assert "S3cretPW" not in result.output
    assert "alice:***@" in result.output
    assert "Traceback" not in result.output


def test_wrong_password_on_the_real_postgres_server_is_not_echoed(postgres_url: str) -> None:
    wrong = postgres_url.replace("postgres@", "nobody:Hunter2Pw@", 1).rsplit("/", 1)[0] + "/no_such_db_h12"
    result = CliRunner().invoke(app, ["check", "--store", wrong])
    assert result.exit_code == 2, result.output
    assert "Hunter2Pw" not in result.output and "nobody:***@" in result.output


def test_redact_urls_masks_passwords_and_query_secrets_only() -> None:
    text = "x postgresql://u:p@h/db and https://acct.blob.core.windows.net/c?sv=1&sig=AbC%2F&se=2 and sqlite:///a.db"
    assert redact_urls(text) == (
        "x postgresql://u:***@h/db and https://acct.blob.core.windows.net/c?sv=1&sig=***&se=2 and sqlite:///a.db"
    )


def test_new_sqlite_store_file_is_created_0600(tmp_path: Path) -> None:
    path = tmp_path / "store" / "evidence.db"
    Store(f"sqlite:///{path}").create()  # made on first use (a failed command leaves none)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    pipeline.collect(Path(__file__).parent / "data" / "aws", Store(f"sqlite:///{path}"), load_config())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_existing_store_file_mode_is_left_as_the_owner_set_it(tmp_path: Path) -> None:
    path = tmp_path / "evidence.db"
    Store(f"sqlite:///{path}").create()
    path.chmod(0o640)  # an operator's choice (a group that runs the reports)
    Store(f"sqlite:///{path}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_signing_key_readable_by_others_is_warned(tmp_path: Path) -> None:
    identity = ensure_demo_identity(tmp_path / "keys")
    config = tmp_path / "policy.yaml"
    config.write_text(f"signing:\n  key: {identity.key_path}\n  cert: {identity.cert_path}\n")
    assert pipeline.signing_warnings(load_config(config)) == []
    identity.key_path.chmod(0o644)
    (warning,) = pipeline.signing_warnings(load_config(config))
    assert str(identity.key_path) in warning and "0644" in warning and "chmod 600" in warning
    assert pipeline.signing_warnings(load_config()) == []  # the demo key is generated 0600


def test_redact_urls_masks_azure_connection_string_keys() -> None:
    text = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=QUJDRA==;EndpointSuffix=core.windows.net"
    assert redact_urls(text) == (
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net"
    )
