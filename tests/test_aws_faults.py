"""Dead, hung, killed and throttling AWS endpoints, bad start-up settings and Ctrl-C.

Real parts: moto's standalone server for the endpoints that answer, real TCP sockets for the
ones that do not (a listener that never replies, a relay to moto that is killed mid-collection),
the CLI as a subprocess for Ctrl-C (a real SIGINT). "Nothing lost" is asserted by counting the
store's snapshots, check runs and decisions before and after each fault.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from agentaudit import pipeline
from agentaudit.cli import app
from agentaudit.collectors.aws_live_calls import AwsOptions
from agentaudit.config import load_config
from agentaudit.model.records import Attestation, Decision
from agentaudit.model.store import ImportRecord, Store
from tests.test_aws_live import (
    MGMT,
    REGION,
    _factory,
    _replay_no_agentcore_identities,
    _replay_service_credentials,
    moto,
    seed_account,
)

__all__ = ["moto"]  # the fixture, imported for this module's tests
ROOT = Path(__file__).resolve().parent.parent
UID = "aws:210987654321:arn:aws:iam::210987654321:role/reviewed-"
# moto 5.2 answers the calls it lacks with HTTP 500, which botocore retries with backoff for a minute
# a source; the fault tests replay their documented empty answers so each test times only its fault.
MOTO_REPLAYS = (_replay_service_credentials, _replay_no_agentcore_identities)


def _counts(store_url: str) -> dict[str, int]:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        tables = ("snapshots", "check_runs", "attestation_campaigns", "attestations")
        found = {t: conn.execute(sa.text(f"select count(*) from {t}")).scalar_one() for t in tables}
    engine.dispose()
    return found


def _store_with_history(tmp_path: Path) -> tuple[Store, str]:
    """A store holding one earlier snapshot, check run, campaign and two imported decisions."""
    url = f"sqlite:///{tmp_path / 'history.db'}"
    store = Store(url)
    config = load_config()
    collected = pipeline.collect(ROOT / "tests" / "data" / "aws", store, config)
    run = pipeline.check(store, config, None, collected.snapshot_id)
    campaign = store.create_campaign("2026-Q4", run.run_id, run.snapshot_id)
    now = datetime.now(UTC)
    decisions = [
        Attestation(campaign.id, "2026-Q4", "pat@example.com", f"I|{UID}{n}", "identity", f"{UID}{n}",
                    f"{UID}{n}", None, f"label {n}", Decision.KEEP, None, now, "pat.xlsx", "0" * 64)
        for n in range(2)
    ]  # fmt: skip
    store.write_attestations(ImportRecord(campaign.id, "pat@example.com", "pat.xlsx", "0" * 64, now, 2, 0), decisions)
    return store, url


@pytest.fixture
def hung_endpoint() -> Iterator[tuple[str, threading.Event]]:
    """A TCP endpoint that accepts connections and never answers (a hung load balancer)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted = threading.Event()
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)
            accepted.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", accepted
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


class Relay:
    """A TCP relay to moto that can be killed: listening socket and open connections closed."""

    def __init__(self, target: str):
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(64)
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.conns: list[socket.socket] = []
        self.dead = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if self.dead:
                client.close()
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        src.close()
        dst.close()

    def kill(self) -> None:
        if self.dead:
            return
        self.dead = True
        with contextlib.suppress(OSError):
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone would not
        self.server.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


# -- start-up errors: one line, exit 2, store untouched -------------------------------------------


@pytest.mark.parametrize(
    ("env", "args", "needle"),
    [
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, [], "EndpointConnectionError"),
        ({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None}, [], "no credentials found"),
        ({}, ["--profiles", "nosuchprofile"], "no AWS profile named 'nosuchprofile'"),
        ({"AWS_MAX_ATTEMPTS": "abc"}, [], "AWS_MAX_ATTEMPTS='abc'"),
        ({"AWS_RETRY_MODE": "eager"}, [], "AWS_RETRY_MODE='eager'"),
        ({"AWS_PROFILE": "ghost"}, [], "no AWS profile named 'ghost'"),
        ({"AWS_ENDPOINT_URL": "not-a-url"}, [], "Invalid endpoint: not-a-url"),
        ({}, ["--regions", "eu west 1"], "--regions: 'eu west 1' is not an AWS region name"),
        ({}, ["--accounts", "12345"], "--accounts: '12345' is not an AWS account id"),
    ],
    ids=[
        "closed-endpoint", "no-credentials", "unknown-profile", "bad-max-attempts", "bad-retry-mode",
        "unknown-env-profile", "malformed-endpoint", "malformed-region", "malformed-account",
    ],
)  # fmt: skip
def test_live_aws_start_up_errors_are_one_line_and_exit_2(
    moto: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str | None],
    args: list[str],
    needle: str,
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for key, value in env.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    _, url = _store_with_history(tmp_path)
    before = _counts(url)
    started = time.monotonic()
    result = CliRunner().invoke(app, ["collect", "--aws", "--regions", REGION, "--store", url, *args])
    assert time.monotonic() - started < 30
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], result.output
    assert _counts(url) == before


# -- faults during collection: a recorded gap, the rest goes on, nothing lost -------------------------


@pytest.mark.parametrize(
    ("variable", "sources"),
    [
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", ["secretsmanager:ListSecrets", "secretsmanager:ResourcePolicies"]),
        (
            "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL",
            [f"bedrock-agentcore:{f}" for f in ("Runtimes", "Gateways", "WorkloadIdentities", "CredentialProviders")],
        ),
    ],
    ids=["secrets-manager", "agentcore"],
)
def test_a_malformed_service_endpoint_is_a_gap_for_that_service_only(
    moto: str, monkeypatch: pytest.MonkeyPatch, variable: str, sources: list[str]
) -> None:
    """A per-service endpoint setting botocore refuses when it makes the client: that service's
    sources are gaps saying so (not "unexpected response shape", not a traceback); the rest is read."""
    from agentaudit.collectors.aws_live import AwsCollector

    seed_account(boto3.Session(region_name=REGION), "e", agent=False)
    monkeypatch.setenv(variable, "not-a-url")
    collected = AwsCollector(AwsOptions(regions=[REGION]), session_factory=_factory(*MOTO_REPLAYS)).collect()
    failed = {s.name: s.error or "" for s in collected.sources if s.status == "failed"}
    assert sorted(failed) == sorted(f"aws/{MGMT}/{REGION}/{name}" for name in sources), failed
    assert all(error.startswith("EndpointSettingError") and "not-a-url" in error for error in failed.values())
    assert all(error.endswith("AWS_ENDPOINT_URL_* settings)") for error in failed.values())
    assert {i.name for i in collected.identities} >= {"e-role-0", "e-svc"}


def test_hung_endpoint_is_a_gap_within_the_source_deadline(
    moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hung_endpoint: tuple[str, threading.Event]
) -> None:
    seed_account(boto3.Session(region_name=REGION), "h", agent=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", hung_endpoint[0])  # botocore's per-service endpoint
    store, url = _store_with_history(tmp_path)
    before = _counts(url)
    options = AwsOptions(
        regions=[REGION], connect_timeout=1, read_timeout=4, max_attempts=2, source_deadline=60, report_poll_seconds=0.1
    )
    started = time.monotonic()
    result = pipeline.collect_aws(options, store, load_config(), session_factory=_factory(*MOTO_REPLAYS))
    elapsed = time.monotonic() - started
    assert elapsed < 60, elapsed  # without timeouts a hung call holds the run ~9 minutes
    sources = pipeline.load_context(store, result.snapshot_id, load_config(), datetime.now(UTC)).sources
    failed = sources[sources["status"] == "failed"]
    assert list(failed["name"]) == [f"aws/{MGMT}/{REGION}/secretsmanager:ListSecrets"], list(failed["error"])
    assert failed.iloc[0]["error"].startswith("ReadTimeoutError")
    assert set(sources[sources["status"] == "complete"]["kind"]) >= {"iam_authorization_details", "credential_report"}
    after = _counts(url)
    assert after == {**before, "snapshots": before["snapshots"] + 1}


def test_deadline_stops_a_source_that_keeps_being_retried(
    moto: str, monkeypatch: pytest.MonkeyPatch, hung_endpoint: tuple[str, threading.Event]
) -> None:
    """Read timeouts are retried by botocore; the source deadline ends the retries.

    Timed per source (the calls moto lacks are replayed, so nothing else is retried)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", hung_endpoint[0])
    from agentaudit.collectors.aws_live import AwsCollector

    options = AwsOptions(regions=[REGION], read_timeout=3, source_deadline=8, max_attempts=50, retry_mode="standard")
    collector = AwsCollector(options, session_factory=_factory(*MOTO_REPLAYS))
    collector.collect()
    name = f"aws/{MGMT}/{REGION}/secretsmanager:ListSecrets"
    assert 8 <= collector.counter.seconds[name] < 8 + 3 + 10  # deadline + one read timeout + backoff
    source = next(s for s in collector.out.sources if s.name == name)
    assert source.status == "failed" and "source deadline of 8 s" in (source.error or "")
    assert 1 < collector.counter.attempts[name] < 50  # 50 attempts x 3 s: 150 s without the deadline


def test_killed_endpoint_mid_collection_is_a_gap_and_nothing_is_lost(
    moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_account(boto3.Session(region_name=REGION), "k", agent=False)
    relay = Relay(moto)
    monkeypatch.setenv("AWS_ENDPOINT_URL", relay.url)  # everything through the relay ...
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    store, url = _store_with_history(tmp_path)
    before = _counts(url)

    iam_answered = threading.Event()

    def kill_at_secrets(session: boto3.Session) -> None:  # ... which dies when Secrets Manager is reached,
        # once IAM has answered (the account's sources run side by side: mid-collection, not at its start)
        session.events.register("after-call.iam.GetAccountAuthorizationDetails", lambda **_: iam_answered.set())
        session.events.register("before-call.secretsmanager.ListSecrets", kill)

    def kill(**_: Any) -> None:  # returns None: a before-call handler's answer would replace the call
        iam_answered.wait(30)
        relay.kill()

    from agentaudit.collectors.aws_live import AwsCollector

    def factory(**kwargs: Any) -> boto3.Session:
        session = _factory(*MOTO_REPLAYS)(**kwargs)
        kill_at_secrets(session)
        return session

    collector = AwsCollector(AwsOptions(regions=[REGION], connect_timeout=2, read_timeout=60), session_factory=factory)
    collected = collector.collect()
    assert relay.dead
    by_name = {s.name: s for s in collected.sources}
    errors = {n: s.error for n, s in by_name.items() if s.error}
    assert by_name[f"aws/{MGMT}/iam:GetAccountAuthorizationDetails"].status == "complete", errors
    assert by_name[f"aws/{MGMT}/{REGION}/secretsmanager:ListSecrets"].status == "failed"
    assert "EndpointConnectionError" in (by_name[f"aws/{MGMT}/{REGION}/secretsmanager:ListSecrets"].error or "")
    assert {i.name for i in collected.identities} >= {"k-role-0", "k-svc"}
    from agentaudit.collectors.enrich import enrich

    data, _ = enrich(collected, [], [], [], load_config(), "aws")
    snapshot = store.write_snapshot(data)
    assert store.snapshot_info(snapshot)["status"] == "partial"
    assert _counts(url) == {**before, "snapshots": before["snapshots"] + 1}


def test_throttling_past_every_retry_is_a_gap_and_nothing_is_lost(
    moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_account(boto3.Session(region_name=REGION), "t", agent=False)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    store, url = _store_with_history(tmp_path)
    before = _counts(url)
    from botocore.awsrequest import AWSResponse

    from agentaudit.collectors.aws_live import AwsCollector
    from tests.test_aws_live import _Raw

    def throttle(request: Any, **_: Any) -> Any:
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
        return AWSResponse(request.url, 400, {"x-amzn-errortype": "ThrottlingException"}, _Raw(body))

    def factory(**kwargs: Any) -> boto3.Session:
        session = _factory(*MOTO_REPLAYS)(**kwargs)
        session.events.register("before-send.secrets-manager.ListSecrets", throttle)
        return session

    collector = AwsCollector(AwsOptions(regions=[REGION], retry_mode="standard"), session_factory=factory)
    collected = collector.collect()
    name = f"aws/{MGMT}/{REGION}/secretsmanager:ListSecrets"
    source = next(s for s in collected.sources if s.name == name)
    assert source.status == "failed" and (source.error or "").startswith("ThrottlingException")
    assert collector.counter.attempts[name] == 3
    from agentaudit.collectors.enrich import enrich

    data, _ = enrich(collected, [], [], [], load_config(), "aws")
    store.write_snapshot(data)
    assert _counts(url) == {**before, "snapshots": before["snapshots"] + 1}


# -- Ctrl-C: ends in seconds, exit 130, and says truthfully what was kept -----------------------------


def _agentaudit(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "agentaudit", *args],
        cwd=ROOT,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _interrupt(process: subprocess.Popen[str], presses: int = 1) -> tuple[int, str, float]:
    started = time.monotonic()
    for press in range(presses):
        if press:
            time.sleep(0.2)  # an impatient operator presses again while the first one is handled
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    return process.returncode, stderr, time.monotonic() - started


@pytest.mark.parametrize("presses", [1, 2], ids=["once", "twice"])
def test_ctrl_c_during_a_hung_live_collection_ends_at_once_and_the_store_is_unchanged(
    moto: str, tmp_path: Path, hung_endpoint: tuple[str, threading.Event], presses: int
) -> None:
    """Twice: the second SIGINT may land while the first one's exit runs, and then ends the process
    by the signal itself (status 130 in a shell) — never with a traceback from a worker thread."""
    _, url = _store_with_history(tmp_path)
    before = _counts(url)
    config = tmp_path / "policy.yaml"
    config.write_text("aws:\n  read_timeout_seconds: 600\n  source_deadline_seconds: 3600\n")
    env = {"AWS_ENDPOINT_URL": moto, "AWS_ENDPOINT_URL_IAM": hung_endpoint[0]}
    process = _agentaudit(["collect", "--aws", "--regions", REGION, "--store", url, "--config", str(config)], env)
    assert hung_endpoint[1].wait(60), "the collector never reached the hung endpoint"
    time.sleep(0.5)
    code, stderr, took = _interrupt(process, presses)
    assert code == 130 or (presses == 2 and code == -signal.SIGINT), (code, stderr)
    assert took < 10, took  # seconds, where a hung call used to hold the run ~9 minutes
    assert "Traceback" not in stderr and "Exception ignored" not in stderr and "Aborted" not in stderr, stderr
    if code == 130:  # (killed by the second press before it could print, it says nothing)
        assert stderr.strip().splitlines()[-1] == "interrupted; the evidence store is unchanged"
    assert _counts(url) == before


def _signer_with_key_in_a_fifo(folder: Path, until: Callable[[], bool]) -> tuple[Path, Path]:
    """A signing certificate valid now, and its key behind a FIFO that hands the PEM out until
    `until()` holds: `run` reads the key before collecting (those reads succeed), and the first read
    after that blocks, as a key on a hung network share would."""
    from datetime import timedelta

    from tests.pki import cert_pem, key_pem, self_signed_signer

    now = datetime.now(UTC)
    key, cert = self_signed_signer("interrupted pack signer", now - timedelta(days=1), now + timedelta(days=30))
    cert_path, key_path = folder / "signing-cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert_pem(cert))
    pem = key_pem(key)
    os.mkfifo(key_path, 0o600)

    def hand_out() -> None:
        while not until():
            with key_path.open("wb") as fifo:  # blocks until the run opens the key
                fifo.write(pem)

    threading.Thread(target=hand_out, daemon=True).start()
    return key_path, cert_path


def test_ctrl_c_while_packing_says_what_was_already_stored(tmp_path: Path) -> None:
    """The run blocks reading its signing key for the pack, after storing its snapshot and check
    run (and its attestation campaign): exactly where an interrupted `run` used to claim the store
    was unchanged. (A key that never answers at all now holds `run` before it collects anything.)"""
    _, url = _store_with_history(tmp_path)
    before = _counts(url)
    key, cert = _signer_with_key_in_a_fifo(tmp_path, lambda: _counts(url)["check_runs"] > before["check_runs"])
    config = tmp_path / "policy.yaml"
    config.write_text(f"signing:\n  key: {key}\n  cert: {cert}\n")
    args = ["run", "--source", str(ROOT / "tests" / "data" / "aws"), "--store", url, "--config", str(config)]
    process = _agentaudit([*args, "--out", str(tmp_path / "out")], {})
    deadline = time.monotonic() + 90
    while _counts(url)["check_runs"] == before["check_runs"] and process.poll() is None:
        assert time.monotonic() < deadline, "the run never stored its check run"
        time.sleep(0.2)
    time.sleep(0.5)
    code, stderr, took = _interrupt(process)
    assert code == 130, stderr
    assert took < 10
    after = _counts(url)
    campaigns = after["attestation_campaigns"] - before["attestation_campaigns"]  # made just before packing
    assert campaigns in (0, 1)
    assert after == {
        **before,
        "snapshots": before["snapshots"] + 1,
        "check_runs": before["check_runs"] + 1,
        "attestation_campaigns": before["attestation_campaigns"] + campaigns,
    }
    last = stderr.strip().splitlines()[-1]
    assert "unchanged" not in last
    assert f"snapshot {before['snapshots'] + 1}" in last and f"check run {before['check_runs'] + 1}" in last
    assert ("attestation campaign" in last) == bool(campaigns), last  # says what it stored, and only that
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("manifest.json"))


def test_access_denied_is_a_gap_and_nothing_is_lost(moto: str, tmp_path: Path) -> None:
    from agentaudit.collectors.aws_live import AwsCollector
    from agentaudit.collectors.enrich import enrich
    from tests.test_aws_live import _deny

    seed_account(boto3.Session(region_name=REGION), "d", agent=False)
    store, url = _store_with_history(tmp_path)
    before = _counts(url)

    factory = _factory(*MOTO_REPLAYS, _deny("iam", "GetCredentialReport"))
    collected = AwsCollector(AwsOptions(regions=[REGION]), session_factory=factory).collect()
    failed = [s for s in collected.sources if s.status == "failed"]
    assert [s.name for s in failed] == [f"aws/{MGMT}/iam:CredentialReport"]
    assert (failed[0].error or "").startswith("AccessDeniedException")
    data, _ = enrich(collected, [], [], [], load_config(), "aws")
    store.write_snapshot(data)
    assert _counts(url) == {**before, "snapshots": before["snapshots"] + 1}


def test_a_live_response_in_an_unexpected_shape_is_a_gap_not_a_traceback(moto: str) -> None:
    from botocore.awsrequest import AWSResponse

    from agentaudit.collectors.aws_live import AwsCollector

    seed_account(boto3.Session(region_name=REGION), "u", agent=False)

    def factory(**kwargs: Any) -> boto3.Session:
        session = _factory(*MOTO_REPLAYS)(**kwargs)
        reply = (AWSResponse("https://secretsmanager", 200, {}, None), {"SecretList": [5]})  # type: ignore[arg-type]
        session.events.register("before-call.secretsmanager.ListSecrets", lambda **_: reply)
        return session

    collected = AwsCollector(AwsOptions(regions=[REGION]), session_factory=factory).collect()
    by_name = {s.name: s for s in collected.sources}
    source = by_name[f"aws/{MGMT}/{REGION}/secretsmanager:ListSecrets"]
    assert source.status == "failed" and "unexpected response shape" in (source.error or ""), source.error
    assert [s.name for s in collected.sources if s.status == "failed"] == [source.name]
    assert by_name[f"aws/{MGMT}/iam:GetAccountAuthorizationDetails"].status == "complete"
    assert not collected.credentials or all(c.store != "secretsmanager" for c in collected.credentials)


@pytest.fixture
def failing_proxy() -> Iterator[tuple[str, list[tuple[int, bytes]]]]:
    """A real HTTP server on loopback answering like a failing proxy in front of IAM: each request
    takes the next (status, body) of the list, the last one repeating."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    replies: list[tuple[int, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, page = replies.pop(0) if len(replies) > 1 else replies[0]
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", replies
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "page", "needle"),
    [
        # botocore reads an HTML 500 as an error without an AWS code
        (500, b"<!DOCTYPE html>\n<html><body><h1>500 Internal Server Error</h1></body></html>", "HTTP 500 without"),
        # a body that is neither XML nor HTML: botocore raises ResponseParserError
        (502, b"Bad gateway <b>nginx</b>", "unreadable response from AWS"),
    ],
    ids=["html-500", "unparseable-502"],
)
def test_iam_behind_a_failing_proxy_is_a_gap_not_a_traceback(
    moto: str, failing_proxy: tuple[str, list[tuple[int, bytes]]], monkeypatch: pytest.MonkeyPatch,
    status: int, page: bytes, needle: str,
) -> None:  # fmt: skip
    from agentaudit.collectors.aws_live import AwsCollector

    seed_account(boto3.Session(region_name=REGION), "h", agent=False)
    url, replies = failing_proxy
    replies.append((status, page))
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", url)  # only IAM goes to the failing proxy
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    collected = AwsCollector(AwsOptions(regions=[REGION]), session_factory=_factory(*MOTO_REPLAYS)).collect()
    by_name = {s.name: s for s in collected.sources}
    iam = by_name[f"aws/{MGMT}/iam:GetAccountAuthorizationDetails"]
    assert iam.status == "failed" and needle in (iam.error or ""), iam.error
    assert "\n" not in (iam.error or "")
    assert by_name[f"aws/{MGMT}/{REGION}/secretsmanager:ListSecrets"].status == "complete"
    assert not [i for i in collected.identities if i.kind == "aws_iam_role"]  # nothing half-read kept
