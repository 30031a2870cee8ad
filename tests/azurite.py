"""Azurite (Microsoft's Blob Storage emulator, npm `azurite`) on a free loopback port for the tests.

`make azurite` (run by `make test`) installs azurite@3.35.0 into ~/.cache/agentaudit/azurite;
AGENTAUDIT_AZURITE_BIN may point at another `azurite-blob`.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.azure_replay import Answer, Replay

# Azurite's fixed development account, published in its documentation.
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEFAULT_BIN = Path.home() / ".cache" / "agentaudit" / "azurite" / "node_modules" / ".bin" / "azurite-blob"


def azurite_bin() -> str:
    found = os.environ.get("AGENTAUDIT_AZURITE_BIN") or (str(DEFAULT_BIN) if DEFAULT_BIN.exists() else None)
    found = found or shutil.which("azurite-blob")
    if not found:
        pytest.fail(
            "azurite-blob not found: run `make azurite` (npm install azurite@3.35.0) or set AGENTAUDIT_AZURITE_BIN"
        )
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def connection_string(port: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )


@contextmanager
def _running(folder: Path, port: int, *extra: str, scheme: str = "http") -> Iterator[None]:
    """azurite-blob in memory on `port` until the block ends (this process only is stopped)."""
    log = folder / "azurite.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [azurite_bin(), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--disableTelemetry",
             "--skipApiVersionCheck", "--inMemoryPersistence", "--silent", *extra],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    context = ssl._create_unverified_context() if scheme == "https" else None  # only to see it listen
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/{ACCOUNT}?comp=list", timeout=2, context=context)
                break
            except urllib.error.HTTPError:
                break  # it answers (401/403 without credentials): up
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Azurite did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Azurite with its well-known account key (connection strings); yields its port."""
    port = free_port()
    with _running(tmp_path_factory.mktemp("azurite"), port):
        yield port


@dataclass(frozen=True)
class OAuthAzurite:
    port: int
    ca: Path  # the CA of its HTTPS certificate (and of the loopback Entra authority's)
    authority: Replay


@pytest.fixture(scope="module")
def azurite_oauth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OAuthAzurite]:
    """Azurite over HTTPS accepting only bearer tokens (`--oauth basic`: issuer, audience and
    lifetime checked, not the signature), and a loopback Entra authority issuing such tokens."""
    folder = tmp_path_factory.mktemp("azurite-oauth")
    port = free_port()
    with TokenAuthority(folder / "authority") as authority:
        cert, key = authority.cert, authority.key
        with _running(folder, port, "--oauth", "basic", "--cert", str(cert), "--key", str(key), scheme="https"):
            yield OAuthAzurite(port, authority.ca, authority)


class TokenAuthority(Replay):
    """The replay server's Entra authority answering the client-credentials grant with a JWT for
    Azure Storage (`aud` https://storage.azure.com, issuer sts.windows.net)."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        super().__init__(folder)
        self.cert, self.key = folder / "server.pem", folder / "server.key"
        self.tokens = 0

    def answer(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        if path.endswith("/oauth2/v2.0/token"):
            self.tokens += 1
            now = int(time.time())
            claims = {"aud": "https://storage.azure.com", "iss": f"https://sts.windows.net/{path.split('/')[1]}/",
                      "iat": now, "nbf": now - 60, "exp": now + 3600, "oid": "agentaudit-export"}  # fmt: skip
            token = ".".join(_b64(part) for part in ({"alg": "none", "typ": "JWT"}, claims)) + "."
            return 200, {}, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
        return super().answer(method, path, body, headers)


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
