"""The owner attestation workbook's contract, shared by the writer (output) and the importer.

A workbook holds one owner's rows. Each row carries an integrity code: an HMAC-SHA256, keyed
by its campaign's secret (kept in the evidence store, never in the workbook), over the campaign,
the reviewer and the row id. An owner can sort, filter, hide and comment freely; a row whose id,
reviewer or campaign was changed, or a row typed in by hand, no longer matches and is refused.
"""

from __future__ import annotations

import hashlib
import hmac

from agentaudit.model.records import Decision

FORMAT = "agentaudit-attestation/1"
REVIEW_SHEET = "Review"
META_SHEET = "agentaudit"  # hidden: format, campaign, reviewer, meta code
HEADER_ROW = 4  # 1-based row of the column headers on the Review sheet; rows above are instructions
CODE_LENGTH = 24  # hex characters of the HMAC kept per row (96 bits)

# Review sheet columns, in order: what an owner reads first, then the two cells to fill in
# (Decision, Comment), then the long Row ID and its code. The importer finds columns by name.
ROW_ID = "Row ID"
KIND = "Reviewing"
IDENTITY = "Identity"
PROVIDER = "Provider"
ACCOUNT = "Account"
ITEM = "Item"
DETAILS = "Details"
OPEN_FINDINGS = "Open findings"
DECISION = "Decision"
COMMENT = "Comment"
CODE = "Integrity code (do not edit)"
COLUMNS = [KIND, IDENTITY, PROVIDER, ACCOUNT, ITEM, DETAILS, OPEN_FINDINGS, DECISION, COMMENT, ROW_ID, CODE]
DECISIONS = [d.value.capitalize() for d in Decision]  # what the drop-down offers: Keep, Revoke, Modify
PREFIXES = {"identity": "I", "credential": "C", "entitlement": "E"}  # the kinds a row reviews
_KIND_OF = {prefix: kind for kind, prefix in PREFIXES.items()}


def row_code(secret: bytes, campaign_id: int, reviewer: str, row_id: str) -> str:
    message = f"{FORMAT}\n{campaign_id}\n{reviewer}\nrow\n{row_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:CODE_LENGTH]


def meta_code(secret: bytes, campaign_id: int, reviewer: str, rows: int) -> str:
    message = f"{FORMAT}\n{campaign_id}\n{reviewer}\nmeta\n{rows}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:CODE_LENGTH]


def codes_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


def make_row_id(kind: str, subject_uid: str, entitlement: str | None = None) -> str:
    """Readable and stable across periods: the kind, then the subject, then the entitlement."""
    return f"{PREFIXES[kind]}|{subject_uid}" + (f"|{entitlement}" if entitlement else "")


def parse_row_id(row_id: str) -> tuple[str, str, str | None]:
    """(kind, subject uid, entitlement); ValueError for an id this format never issues."""
    prefix, _, rest = row_id.partition("|")
    kind = _KIND_OF.get(prefix)
    if kind is None or not rest:
        raise ValueError(row_id)
    if kind != "entitlement":
        return kind, rest, None
    subject, sep, entitlement = rest.partition("|")
    if not sep or not entitlement:
        raise ValueError(row_id)
    return kind, subject, entitlement
