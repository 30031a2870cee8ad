"""PAdES signing and validation of the review-pack PDF with pyHanko."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from agentaudit.output.signers import chain_store
from agentaudit.output.signing import SigningError, SigningIdentity
from agentaudit.output.timestamps import describe

FIELD = "agentaudit-signature"


def sign_pdf(source: Path, dest: Path, identity: SigningIdentity, reason: str) -> None:
    """PAdES-B-B; with a TSA configured, PAdES-B-LT: a signature timestamp, and the certificates
    and revocation data needed to validate it embedded (DSS), so it verifies after expiry."""
    signer = identity.signer()
    timestamper = identity.timestamper()
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        embed_validation_info=timestamper is not None,
        validation_context=_validation_context(identity) if timestamper is not None else None,
    )
    try:
        with source.open("rb") as inp, dest.open("wb") as out:
            signers.sign_pdf(IncrementalPdfFileWriter(inp), meta, signer=signer, timestamper=timestamper, output=out)
    except (PyHankoSigningError, OSError, ValueError) as exc:
        raise SigningError(f"{source}: PDF signing failed: {exc}") from None


def _validation_context(identity: SigningIdentity) -> ValidationContext:
    """Trust anchors for collecting validation data: the self-signed certificates of the chain
    file (signer's and TSA's roots), or the signing certificate itself when it is self-signed."""
    cert = asn1_x509.Certificate.load(identity.certificate().public_bytes(serialization.Encoding.DER))
    chain = list(chain_store(identity.chain_path))
    roots = [c for c in chain if c.self_signed != "no"]  # asn1crypto says "no", "maybe" or "yes"
    if cert.self_signed != "no" or not roots:
        roots.append(cert)
    others = [c for c in chain if c.self_signed == "no"]
    return ValidationContext(trust_roots=roots, other_certs=others, allow_fetching=True, revocation_mode="soft-fail")


@contextmanager
def _quiet_pyhanko() -> Iterator[None]:
    """pyHanko logs a full traceback for a damaged PDF before raising; the failure is reported
    as one line by the caller, so its records stop at a null handler while validating."""
    loggers = [logging.getLogger(name) for name in ("pyhanko", "pyhanko_certvalidator")]
    sink = logging.NullHandler()
    previous = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(sink)
        logger.propagate = False
    try:
        yield
    finally:
        for logger, propagate in zip(loggers, previous, strict=True):
            logger.removeHandler(sink)
            logger.propagate = propagate


def verify_pdf(path: Path, cert: x509.Certificate) -> str:
    """Return a summary (with the timestamp and embedded validation data, when present), or raise
    SigningError. The signature must be intact, valid, made by `cert`, trusted with `cert` as the
    only root, and cover the entire file, or every byte after it be validation data (PAdES-B-LT's
    DSS update), as pyHanko's difference analysis reports."""
    root = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    try:
        with _quiet_pyhanko(), path.open("rb") as handle:
            reader = PdfFileReader(handle)
            signatures = reader.embedded_signatures
            if len(signatures) != 1:
                raise SigningError(f"{path.name}: expected one signature, found {len(signatures)}")
            embedded = signatures[0]
            status = validate_pdf_signature(embedded, ValidationContext(trust_roots=[root]))
            signer_der = embedded.signer_cert.dump()
            dss = _dss_counts(reader)
    except SigningError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure on a tampered file fails closed
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SigningError(f"{path.name}: cannot validate the PDF signature: {first}") from None
    problems = []
    if not status.intact:
        problems.append("signed bytes were changed")
    if not status.valid:
        problems.append("signature does not verify")
    coverage = status.coverage.name if status.coverage is not None else None
    lt_only = coverage == "ENTIRE_REVISION" and status.modification_level == ModificationLevel.LTA_UPDATES
    if coverage != "ENTIRE_FILE" and not lt_only:
        problems.append(f"signature does not cover the entire file ({status.coverage})")
    if signer_der != root.dump():
        problems.append("signer is not the pack's signing certificate")
    if not status.trusted:
        problems.append("signer certificate not trusted")
    if problems:
        raise SigningError(f"{path.name}: " + "; ".join(problems))
    lines = [f"{path.name}: PAdES signature intact, valid, covers the entire file" + (
        " (then only validation data added)" if lt_only else "")]  # fmt: skip
    if status.timestamp_validity is not None:
        lines.append(describe(status.timestamp_validity, path.name))
    if dss is not None:
        lines.append(f"{path.name}: PAdES-B-LT validation data embedded (DSS: {dss})")
    return "\n".join(lines)


def _dss_counts(reader: PdfFileReader) -> str | None:
    dss = reader.root.get("/DSS")
    if dss is None:
        return None
    dss = dss.get_object()
    return ", ".join(f"{len(dss.get(key, []))} {key[1:]}" for key in ("/Certs", "/OCSPs", "/CRLs"))
