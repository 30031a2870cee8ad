"""Azurite (Microsoft's Blob Storage emulator, npm `azurite`) on a free loopback port for the tests.

`make azurite` (run by `make test`) installs azurite@3.35.0 into ~/.cache/agentaudit/azurite;
AGENTAUDIT_AZURITE_BIN may point at another `azurite-blob`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Start azurite-blob in memory; yield its port; stop it (this process only) at the end."""
    port = free_port()
    log = tmp_path_factory.mktemp("azurite") / "azurite.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [azurite_bin(), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--disableTelemetry",
             "--skipApiVersionCheck", "--inMemoryPersistence", "--silent"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/{ACCOUNT}?comp=list", timeout=2)
                break
            except urllib.error.HTTPError:
                break  # it answers (403 without a signature): up
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Azurite did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
