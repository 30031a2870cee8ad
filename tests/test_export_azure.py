"""Export to Azure Blob Storage against Azurite: read-back, idempotent re-run, remote verify,
a tampered blob caught, an upload cut by a stopped server and resumed."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from azure.storage.blob import BlobServiceClient, ContainerClient
from typer.testing import CliRunner

from agentaudit.cli import EXIT_EXPORT, app
from agentaudit.output.manifest import MANIFEST, SIGNATURE
from agentaudit.output.storage import Options, StorageError
from agentaudit.output.storage.export import ExportIncompleteError, export_pack, options_from
from tests.azurite import ACCOUNT, OAuthAzurite, azurite, azurite_oauth, connection_string
from tests.proxy import Proxy

__all__ = ["azurite", "azurite_oauth"]  # fixtures, used by name below
runner = CliRunner()


@pytest.fixture
def container(azurite: int, monkeypatch: pytest.MonkeyPatch) -> ContainerClient:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(azurite))
    service = BlobServiceClient.from_connection_string(connection_string(azurite))
    return service.create_container(f"evidence-{uuid.uuid4().hex[:10]}")


def _files(folder: Path) -> tuple[str, list[str]]:
    manifest = json.loads((folder / MANIFEST).read_text())
    files = [e["path"] for e in manifest["files"]] + [SIGNATURE, MANIFEST]
    return f"{manifest['period']}/run-{manifest['run_id']:06d}", files


def test_blob_export_reads_back_is_idempotent_and_verifies(
    demo_run: dict[str, Any], container: ContainerClient
) -> None:
    where, files = _files(demo_run["folder"])
    url = f"azure://{ACCOUNT}/{container.container_name}/agentaudit"
    first = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", url])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip().splitlines()[-1] == f"{url}/{where}"
    assert f"{len(files)} uploaded" in first.stderr and f"{len(files)} read back" in first.stderr
    assert "has no immutability policy" in first.stderr
    blob = container.get_blob_client(f"agentaudit/{where}/review-pack.pdf").get_blob_properties()
    listed = json.loads((demo_run["folder"] / MANIFEST).read_text())["files"]
    assert blob.metadata["sha256"] == next(e["sha256"] for e in listed if e["path"] == "review-pack.pdf")
    again = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", url])
    assert again.exit_code == 0, again.output
    assert f"0 uploaded (0 bytes), {len(files)} already stored intact" in again.stderr
    checked = runner.invoke(app, ["verify", f"{url}/{where}"])
    assert checked.exit_code == 0, checked.output
    assert "manifest.json.p7s: CMS signature over manifest.json verifies" in checked.stdout


def test_remote_verify_catches_a_tampered_blob(demo_run: dict[str, Any], container: ContainerClient) -> None:
    where = _files(demo_run["folder"])[0]
    url = f"azure://{ACCOUNT}/{container.container_name}"
    assert runner.invoke(app, ["export", str(demo_run["folder"]), "--to", url]).exit_code == 0
    container.upload_blob(f"{where}/inventory.json.gz", b"tampered", overwrite=True)
    result = runner.invoke(app, ["verify", f"{url}/{where}"])
    assert result.exit_code == 1
    assert "FAIL  inventory.json.gz: SHA-256 differs from the manifest (file changed)" in result.stdout


def test_blob_upload_cut_by_a_stopped_server_is_reported_then_resumed(
    demo_run: dict[str, Any], container: ContainerClient, azurite: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = Proxy(azurite)
    proxy.start()
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(proxy.port))
    url = f"azure://{ACCOUNT}/{container.container_name}/cut"
    seen: list[str] = []

    def stop_after_five(key: str) -> None:
        seen.append(key)
        if len(seen) == 6:
            proxy.stop()

    try:
        with pytest.raises(ExportIncompleteError, match="export incomplete: 5 of"):
            export_pack(demo_run["folder"], url, Options(), stop_after_five)
        stored = [b.name for b in container.list_blobs()]
        assert len(stored) == 5 and not any(name.endswith(MANIFEST) for name in stored)
        failed = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", url])
        assert failed.exit_code == EXIT_EXPORT
        assert "run the same export again to resume" in failed.stderr
        proxy.start()
        resumed = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", url])
        assert resumed.exit_code == 0, resumed.output
        assert "5 already stored intact" in resumed.stderr
    finally:
        proxy.stop()


def test_blob_upload_cut_inside_an_object_is_reported_then_resumed(
    demo_run: dict[str, Any], container: ContainerClient, azurite: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Azurite goes away while the PDF's bytes are on the wire: no half blob, no manifest."""
    proxy = Proxy(azurite)
    proxy.start()
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string(proxy.port))
    url = f"azure://{ACCOUNT}/{container.container_name}/mid"
    where, files = _files(demo_run["folder"])
    size = (demo_run["folder"] / "review-pack.pdf").stat().st_size

    def cut_inside_the_pdf(key: str) -> None:
        if key == "review-pack.pdf":
            proxy.cut_after(4096 + size // 2)  # the properties call, the PUT's headers and half its body

    try:
        with pytest.raises(ExportIncompleteError, match=r"review-pack\.pdf: upload failed") as cut:
            export_pack(demo_run["folder"], url, Options(), cut_inside_the_pdf)
        done = files.index("review-pack.pdf")
        assert f"export incomplete: {done} of {len(files)}" in str(cut.value)
        stored = [b.name for b in container.list_blobs()]
        assert len(stored) == done and f"mid/{where}/review-pack.pdf" not in stored
        proxy.start()
        resumed = export_pack(demo_run["folder"], url, Options())
        assert len(resumed.skipped) == done and resumed.uploaded[0] == "review-pack.pdf"
        checked = runner.invoke(app, ["verify", f"{url}/{where}"])
        assert checked.exit_code == 0, checked.output
    finally:
        proxy.stop()


def test_remote_verify_catches_a_rewritten_manifest_and_a_deleted_blob(
    demo_run: dict[str, Any], container: ContainerClient
) -> None:
    where = _files(demo_run["folder"])[0]
    url = f"azure://{ACCOUNT}/{container.container_name}"
    assert runner.invoke(app, ["export", str(demo_run["folder"]), "--to", url]).exit_code == 0
    forged = b"{}"
    manifest = json.loads((demo_run["folder"] / MANIFEST).read_text())
    for entry in manifest["files"]:
        if entry["path"] == "summary.json":
            entry["sha256"] = hashlib.sha256(forged).hexdigest()
    container.upload_blob(f"{where}/summary.json", forged, overwrite=True)
    container.upload_blob(f"{where}/{MANIFEST}", json.dumps(manifest).encode(), overwrite=True)
    container.delete_blob(f"{where}/inventory.json.gz")
    result = runner.invoke(app, ["verify", f"{url}/{where}"])
    assert result.exit_code == 1
    assert "FAIL  manifest.json.p7s: signed message digest does not match the manifest" in result.stdout
    container.upload_blob(f"{where}/{MANIFEST}", (demo_run["folder"] / MANIFEST).read_bytes(), overwrite=True)
    again = runner.invoke(app, ["verify", f"{url}/{where}"])
    failures = [line for line in again.stdout.splitlines() if line.startswith("FAIL")]
    assert failures == [
        "FAIL  inventory.json.gz: listed in the manifest but missing",
        "FAIL  summary.json: SHA-256 differs from the manifest (file changed)",
    ]


def test_blob_export_with_azure_identity_credentials_over_https(
    demo_run: dict[str, Any], azurite_oauth: OAuthAzurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No connection string: DefaultAzureCredential's environment credential trades a client
    secret at a loopback Entra authority for a bearer token, which Azurite (HTTPS, OAuth) checks."""
    for key, value in {
        "SSL_CERT_FILE": str(azurite_oauth.ca),
        "AZURE_AUTHORITY_HOST": azurite_oauth.authority.url,
        "AZURE_TENANT_ID": "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "AZURE_CLIENT_ID": "agentaudit-export",
        "AZURE_CLIENT_SECRET": "not-a-secret",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AZURE_STORAGE_CONNECTION_STRING", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    blob_url = f"https://127.0.0.1:{azurite_oauth.port}/{{account}}"
    config = tmp_path / "policy.yaml"
    config.write_text(f"export:\n  azure_blob_url: {blob_url}\n")
    setup = ClientSecretCredential(
        "72f988bf-86f1-41af-91ab-2d7cd011db47", "agentaudit-export", "not-a-secret",
        authority=azurite_oauth.authority.url, disable_instance_discovery=True, connection_verify=str(azurite_oauth.ca),
    )  # fmt: skip
    BlobServiceClient(
        blob_url.format(account=ACCOUNT), setup, connection_verify=str(azurite_oauth.ca)
    ).create_container("oauth")
    where, files = _files(demo_run["folder"])
    url = f"azure://{ACCOUNT}/oauth/agentaudit"
    done = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", url, "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert f"{len(files)} uploaded" in done.stderr and f"{len(files)} read back" in done.stderr
    assert "not-a-secret" not in done.output and azurite_oauth.authority.tokens >= 1
    checked = runner.invoke(app, ["verify", f"{url}/{where}", "--config", str(config)])
    assert checked.exit_code == 0, checked.output
    config.write_text("export:\n  azure_blob_url: http://plain.example/{account}\n")
    plain = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", url, "--config", str(config)])
    assert plain.exit_code == 2 and "export.azure_blob_url must be an https:// URL" in plain.stderr


def test_connection_string_for_another_account_is_one_line(
    demo_run: dict[str, Any], container: ContainerClient
) -> None:
    result = runner.invoke(app, ["export", str(demo_run["folder"]), "--to", "azure://otheraccount/evidence"])
    assert result.exit_code == 2
    assert "is for account 'devstoreaccount1', the URL names 'otheraccount'" in result.stderr


def test_the_blob_service_follows_azure_cloud_unless_configured() -> None:
    assert options_from({}, None, None, None, "usgovernment").azure_blob_url == (
        "https://{account}.blob.core.usgovcloudapi.net"
    )
    assert options_from({}, None, None, None).azure_blob_url == "https://{account}.blob.core.windows.net"
    own = {"azure_blob_url": "https://{account}.blob.core.contoso.example"}
    assert options_from(own, None, None, None, "china").azure_blob_url == own["azure_blob_url"]
    with pytest.raises(StorageError, match=r"azure\.cloud must be one of public, usgovernment, china, got 'mars'"):
        options_from({}, None, None, None, "mars")
