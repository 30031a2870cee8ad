"""RFC 3161 signature timestamps, as `verify` reports them: the token must be intact and valid
(its message imprint is the signature's digest, and the TSA's signature holds); the time and
the TSA's name are printed. Whether that TSA is one to trust is the auditor's call: its
certificate is named, not pinned."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from asn1crypto import cms as asn1_cms
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.validation.generic_cms import async_validate_detached_cms
from pyhanko_certvalidator import ValidationContext

from agentaudit.output.signing import SigningError

# pyHanko logs a path-building traceback for a TSA outside the (pinned) trust roots; the verdict
# on the token is reported here instead.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)


def describe(status: Any, what: str) -> str:
    """One line for a pyHanko TimestampSignatureStatus; raises if the token does not hold."""
    if not (status.intact and status.valid):
        raise SigningError(f"{what}: the RFC 3161 timestamp token does not verify")
    tsa = status.signing_cert.subject.human_friendly if status.signing_cert is not None else "unknown TSA"
    return f"{what}: RFC 3161 timestamp {status.timestamp:%Y-%m-%d %H:%M:%S UTC} by {tsa} (token intact and valid)"


def manifest_timestamp(
    data: bytes, signature: bytes, signer: asn1_x509.Certificate, what: str
) -> tuple[str, datetime] | None:
    """The manifest signature's timestamp line and time, None when it carries no timestamp."""
    info = asn1_cms.ContentInfo.load(signature)
    unsigned = info["content"]["signer_infos"][0]["unsigned_attrs"]
    if not unsigned.native or not any(a["type"].native == "signature_time_stamp_token" for a in unsigned):
        return None
    context = ValidationContext(trust_roots=[signer])
    try:
        status = asyncio.run(async_validate_detached_cms(data, info["content"], context, context))
    except Exception as exc:  # noqa: BLE001 - a malformed token fails closed
        raise SigningError(f"{what}: the timestamp token cannot be read: {exc}") from None
    if status.timestamp_validity is None:
        raise SigningError(f"{what}: a timestamp attribute is present but no token was validated")
    return describe(status.timestamp_validity, what), status.timestamp_validity.timestamp
