"""A small PKI on loopback served by certomancer's Animator: a root CA that publishes a CRL and
answers OCSP, a document signer issued by it (also as PKCS#12), and an RFC 3161 timestamp
authority. What PAdES-B-LT and the timestamped manifest are tested against."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import CertomancerConfig
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server

from tests.azurite import free_port

P12_PASSPHRASE = "loopback-pki"


@dataclass(frozen=True)
class LoopbackPki:
    url: str
    tsa_url: str
    root_pem: Path
    signer_p12: Path
    chain_pem: Path


def _key(folder: Path, name: str) -> dict[str, str]:
    key = rsa.generate_private_key(65537, 2048)
    path = folder / f"{name}.key.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return {"path": path.name}


def _config(folder: Path, url: str) -> CertomancerConfig:
    usage = {"id": "key_usage", "critical": True, "smart-value": {"schema": "key-usage"}}
    crl = {
        "id": "crl_distribution_points",
        "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["root"]}},
    }
    aia = {
        "id": "authority_information_access",
        "smart-value": {"schema": "aia-urls", "params": {"ocsp-responder-names": ["root"]}},
    }
    validity = {"valid-from": "2020-01-01T00:00:00+0000", "valid-to": "2100-01-01T00:00:00+0000"}

    def uses(*names: str) -> dict[str, object]:
        return {**usage, "smart-value": {"schema": "key-usage", "params": list(names)}}

    arch = {
        "keyset": "loopback",
        "entity-defaults": {"country-name": "BE", "organization-name": "agentaudit loopback PKI"},
        "entities": {
            "root": {"common-name": "Loopback Root CA"},
            "tsa": {"common-name": "Loopback Timestamp Authority"},
            "signer": {"common-name": "agentaudit evidence signer (loopback PKI)"},
        },
        "certs": {
            "root": {
                "subject": "root", "issuer": "root", "validity": validity,
                "extensions": [{"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                               uses("digital_signature", "key_cert_sign", "crl_sign")],
            },
            "tsa": {
                "issuer": "root", "validity": validity,
                "extensions": [uses("digital_signature"), crl,
                               {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]}],
            },
            "signer": {
                "issuer": "root", "validity": validity,
                "extensions": [uses("digital_signature", "non_repudiation"), crl, aia,
                               {"id": "extended_key_usage", "value": ["email_protection"]}],
            },
        },
        "services": {
            "ocsp": {"root": {"for-issuer": "root", "responder-cert": "root", "signing-key": "root"}},
            "crl-repo": {"root": {"for-issuer": "root", "signing-key": "root", "simulated-update-schedule": "P30D"}},
            "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
        },
    }  # fmt: skip
    keys = {name: _key(folder, name) for name in ("root", "tsa", "signer")}
    config = {
        "external-url-prefix": url,
        "keysets": {"loopback": {"keys": keys}},
        "pki-architectures": {"loopback": arch},
    }
    return CertomancerConfig(config, key_search_dir=str(folder))


@pytest.fixture(scope="session")
def loopback_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackPki]:
    folder = tmp_path_factory.mktemp("pki")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = _config(folder, url)
    arch = config.pki_archs["loopback"]
    root_pem = folder / "root.pem"
    root_pem.write_text(_pem(arch.get_cert("root").dump()))
    chain = folder / "chain.pem"
    chain.write_text(_pem(arch.get_cert("root").dump()) + _pem(arch.get_cert("tsa").dump()))
    p12 = folder / "signer.p12"
    p12.write_bytes(arch.package_pkcs12("signer", password=P12_PASSPHRASE.encode()))
    server = make_server(
        "127.0.0.1", port, Animator(AnimatorArchStore(config.pki_archs), with_web_ui=False), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LoopbackPki(url, f"{url}/loopback/tsa/tsa", root_pem, p12, chain)
    finally:
        server.shutdown()


def _pem(der: bytes) -> str:
    from asn1crypto import pem

    return pem.armor("CERTIFICATE", der).decode()
