"""A loopback HTTPS server answering Key Vault's documented Get Key and Sign calls with a real key.

The shapes come from tests/data/azure/keyvault/; the server holds the private key (as the vault
would) and signs the digest it is sent, so what it returns verifies like the real service's."""

from __future__ import annotations

import base64
import copy
import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from tests.pki import CertificateAuthority

SHAPES = Path(__file__).parent / "data" / "azure" / "keyvault"
KEY_PATH = "/keys/pack-signer/78deebed173b48e48f55abf87ed4cf71"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _number(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class StaticCredential:
    """What azure-identity would hand the signer: a bearer token for the vault scope."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **_kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("replay-token", int(time.time()) + 3600)


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *_args: Any) -> None:
        return

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != "Bearer replay-token":
            self._answer(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer"}})
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        if self.path.split("?")[0] == KEY_PATH:
            self._answer(200, self.server.vault.key_bundle())
        else:
            self._answer(404, {"error": {"code": "KeyNotFound", "message": "A key with (name/id) was not found"}})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.vault.requests.append(body)
        if self.path.split("?")[0] != f"{KEY_PATH}/sign":
            self._answer(404, {"error": {"code": "NotFound", "message": "no such operation"}})
            return
        self._answer(200, self.server.vault.sign(body["alg"], body["value"]))


class ReplayVault:
    def __init__(self, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, key_ops: list[str] | None = None):
        self.key = key
        self.key_ops = key_ops
        self.requests: list[dict[str, Any]] = []
        self.url = ""

    def key_bundle(self) -> dict[str, Any]:
        bundle = copy.deepcopy(json.loads((SHAPES / "get-key.json").read_text()))
        jwk = bundle["key"]
        jwk["kid"] = f"{self.url}{KEY_PATH}"
        if self.key_ops is not None:
            jwk["key_ops"] = self.key_ops
        public = self.key.public_key().public_numbers()
        if isinstance(public, rsa.RSAPublicNumbers):
            jwk.update(n=_number(public.n), e=_number(public.e))
        else:
            for name in ("n", "e"):
                jwk.pop(name)
            jwk.update(kty="EC", crv="P-256", x=_number(public.x), y=_number(public.y))
        return dict(bundle)

    def sign(self, alg: str, value: str) -> dict[str, Any]:
        digest = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        if isinstance(self.key, rsa.RSAPrivateKey):
            assert alg == "RS256"
            signature = self.key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        else:
            assert alg == "ES256"
            r, s = utils.decode_dss_signature(self.key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256()))))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS form, as Key Vault answers
        answer = json.loads((SHAPES / "sign.json").read_text())
        answer.update(kid=f"{self.url}{KEY_PATH}", value=b64url(signature))
        return dict(answer)


@contextmanager
def serve(vault: ReplayVault, ca: CertificateAuthority) -> Iterator[str]:
    """Serve the vault over HTTPS on a free loopback port; yields the key URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.vault = vault  # type: ignore[attr-defined]
    cert, key = ca.issue_tls("127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    vault.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{vault.url}{KEY_PATH}"
    finally:
        server.shutdown()
        server.server_close()
