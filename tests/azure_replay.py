"""A TLS replay server on loopback for the live Azure collector: a test CA generated per run,
an Entra authority (OpenID configuration + token endpoint), and Graph/ARM routes answered from
recorded documented shapes. Any request it does not expect is answered 404 and recorded, so a
test can prove exactly which calls were made."""

from __future__ import annotations

import ipaddress
import json
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Answer = tuple[int, dict[str, str], Any]
Route = Answer | list[Answer] | Callable[[dict[str, Any] | None], Answer]


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_tls(folder: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) for 127.0.0.1, valid one day."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("agentaudit test CA"))
        .issuer_name(_name("agentaudit test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class Replay:
    """Routes keyed by (method, unquoted path with query); a list is answered in order."""

    def __init__(self, folder: Path):
        self.routes: dict[tuple[str, str], Route] = {}
        self.seen: list[tuple[str, str]] = []
        self.unexpected: list[tuple[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.ca, cert, key = make_tls(folder)
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                return

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                is_json = "json" in str(self.headers.get("Content-Type"))
                body = json.loads(raw) if raw and is_json else None
                status, headers, payload = replay.answer(method, unquote(self.path), body, dict(self.headers))
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Answer:
        if path.endswith("/.well-known/openid-configuration"):
            base = self.url + path.split("/v2.0/")[0]
            return (
                200,
                {},
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "issuer": f"{base}/v2.0",
                },
            )
        if path.endswith("/oauth2/v2.0/token"):
            return 200, {}, {"access_token": "test-token", "expires_in": 3600, "token_type": "Bearer"}
        self.seen.append((method, path))
        self.headers.append(headers)
        route = self.routes.get((method, path))
        if route is None:
            self.unexpected.append((method, path))
            return 404, {}, {"error": {"code": "NotExpected", "message": path}}
        if callable(route):
            return route(body)
        if isinstance(route, list):
            return route.pop(0) if len(route) > 1 else route[0]
        return route

    def __enter__(self) -> Replay:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
