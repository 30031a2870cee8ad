"""Dead and hung Azure endpoints: a recorded gap within the configured timeouts, never a traceback.

Real sockets on loopback (a closed port; a listener that accepts and never answers) behind the
collector's own azure-core pipeline; the token comes from a static credential (no Entra needed)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from agentaudit.collectors.azure_live import AzureCollector, AzureEndpoints, AzureOptions
from agentaudit.model.kinds import Input
from agentaudit.model.records import SourceStatus
from tests.azure_replay import Replay
from tests.test_aws_faults import hung_endpoint

__all__ = ["hung_endpoint"]  # the fixture, imported for this module's tests
TENANT = "5b6a7c8d-1111-4222-8333-944455556666"


class StaticToken:
    def get_token(self, *_: Any, **__: Any) -> AccessToken:
        return AccessToken("static-token", int(time.time()) + 3600)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _one_source(url: str, **limits: float) -> tuple[Any, float]:
    endpoints = AzureEndpoints(url, url, url)
    collector = AzureCollector(AzureOptions(TENANT, endpoints, **limits), StaticToken())  # type: ignore[arg-type]
    started = time.monotonic()
    collector._step("graph:servicePrincipals", Input.ENTRA_PRINCIPALS, collector._service_principals)
    return collector.sources[-1], time.monotonic() - started


def test_a_dead_azure_endpoint_is_a_gap_not_a_traceback() -> None:
    source, took = _one_source(f"https://127.0.0.1:{_closed_port()}", request_deadline=2)
    assert source.status == SourceStatus.FAILED
    error = source.error or ""
    assert error.startswith("ServiceRequest") and "\n" not in error, error  # refused, then the deadline
    assert "Connection refused" in error or "request deadline of 2 s" in error, error
    assert took < 10, took  # the request deadline ends the connection retries


@pytest.mark.parametrize(
    ("connect", "read", "deadline", "bound"),
    [(1, 600, 600, 15), (600, 600, 3, 3 + 5)],  # 4 connects of 1 s + back-off; the deadline + back-off
    ids=["connect-timeout", "request-deadline"],
)
def test_a_hung_azure_endpoint_is_a_gap_within_the_limits(
    hung_endpoint: tuple[str, threading.Event], connect: float, read: float, deadline: float, bound: float
) -> None:
    """A listener that never completes the TLS handshake: the connect timeout, or the request
    deadline alone, ends the call (azure-core's own defaults: 300 s each, 7 attempts)."""
    url = hung_endpoint[0].replace("http://", "https://")
    source, took = _one_source(url, connect_timeout=connect, read_timeout=read, request_deadline=deadline)
    assert hung_endpoint[1].is_set()
    assert source.status == SourceStatus.FAILED
    assert (source.error or "").startswith("ServiceRe"), source.error
    assert took < bound, took


def test_an_azure_endpoint_that_never_answers_is_a_gap_after_the_read_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TLS completes, the request is read, no response ever comes: the read timeout ends each attempt."""
    release = threading.Event()
    with Replay(tmp_path) as replay:
        replay.answer = lambda *_: (release.wait(60), (200, {}, {"value": []}))[1]  # type: ignore[method-assign]
        replay.server.handle_error = lambda *_: None  # type: ignore[method-assign]  # the client left, as intended
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(replay.ca))
        source, took = _one_source(replay.url, connect_timeout=5, read_timeout=1, request_deadline=600)
        release.set()
    assert source.status == SourceStatus.FAILED
    assert (source.error or "").startswith("ServiceResponse"), source.error
    assert took < 15, took  # 4 reads of 1 s + back-off; azure-core's own default is 300 s a read


@pytest.mark.parametrize("name", ["connect_timeout", "read_timeout", "request_deadline"])
def test_azure_limits_must_be_positive(name: str) -> None:
    from agentaudit.errors import InputError

    with pytest.raises(InputError, match=f"azure.{name}_seconds must be more than 0"):
        AzureOptions(TENANT, AzureEndpoints("https://a", "https://g", "https://m"), **{name: 0})  # type: ignore[arg-type]


def test_no_azure_credential_is_one_line_exit_2_and_nothing_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `--aws` without credentials: one line naming what to set, exit 2, the store untouched (it
    was exit 0, a hundred lines of azure-identity's log and a snapshot of eight failed sources)."""
    from typer.testing import CliRunner

    from agentaudit.cli import app
    from tests.test_aws_faults import _counts, _store_with_history

    for key in (
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no Azure CLI / PowerShell / azd login to find
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")  # no managed identity either
    monkeypatch.setenv("IMDS_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    _, url = _store_with_history(tmp_path)
    before = _counts(url)
    result = CliRunner().invoke(app, ["collect", "--azure", "--tenant", TENANT, "--store", url])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: Azure: no credential could get a token"), result.output
    assert _counts(url) == before
