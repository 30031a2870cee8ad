"""The owner attestation workbook's contract, shared by the writer (output) and the importer.

A workbook holds one owner's rows. Each row carries an integrity code: an HMAC-SHA256, keyed
by its campaign's secret (kept in the evidence store, never in the workbook), over the campaign,
the reviewer and the row id. An owner can sort, filter, hide and comment freely; a row whose id,
reviewer or campaign was changed, or a row typed in by hand, no longer matches and is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re

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


# What must round-trip through a spreadsheet exactly (Row IDs, the reviewer) is written in a cell
# form: control characters (which XlsxWriter writes as _x000D_ and openpyxl reads back literally),
# lone surrogates, the `|` separator, the escape character itself, text that looks like an OOXML
# _xHHHH_ escape and whitespace a reader would strip at either end become \xHH / \uHHHH.
_ESCAPED = re.compile(r"[\\|\x00-\x1f\x7f-\x9f\ud800-\udfff]|_(?=x[0-9A-Fa-f]{4}_)")
_ESCAPE = re.compile(r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4}))")
MAX_KEY = 2_500  # characters of a subject uid, entitlement or reviewer kept as written; longer: digest
EXCEL_CELL = 32_767  # characters a spreadsheet cell holds


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def to_cell(text: str) -> str:
    """`text` in a form every spreadsheet app keeps exactly; `from_cell` reverses it."""
    out = _ESCAPED.sub(lambda m: _escape(m.group()[0]), text)
    if out[:1].isspace():
        out = _escape(out[0]) + out[1:]
    if len(out) > 1 and out[-1].isspace():
        out = out[:-1] + _escape(out[-1])
    return out


UNSHOWABLE = r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]"  # what XlsxWriter mangles; tabs and newlines show


def display_text(text: str) -> str:
    """Estate text for a read-only cell: control characters shown as \\xHH, not mangled."""
    return re.sub(UNSHOWABLE, lambda m: _escape(m.group()), text)


def from_cell(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def id_key(text: str) -> str:
    """`text` itself, or for text too long for a cell a readable head and its SHA-256: what a Row
    ID carries and what ATT checks compare the snapshot's uids and entitlements by."""
    if len(text) <= MAX_KEY:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{text[:200]}…#sha256:{digest}"


def make_row_id(kind: str, subject_uid: str, entitlement: str | None = None) -> str:
    """Readable and stable across periods: the kind, then the subject, then the entitlement, each
    in cell form (so the id survives any spreadsheet app) and at most MAX_KEY characters long."""
    row_id = f"{PREFIXES[kind]}|{to_cell(id_key(subject_uid))}"
    return row_id + (f"|{to_cell(id_key(entitlement))}" if entitlement else "")


def parse_row_id(row_id: str) -> tuple[str, str, str | None]:
    """(kind, subject key, entitlement key) as `id_key` gives them; ValueError for an id this
    format never issues."""
    prefix, _, rest = row_id.partition("|")
    kind = _KIND_OF.get(prefix)
    if kind is None or not rest:
        raise ValueError(row_id)
    if kind != "entitlement":
        return kind, from_cell(rest), None
    subject, sep, entitlement = rest.partition("|")
    if not sep or not entitlement:
        raise ValueError(row_id)
    return kind, from_cell(subject), from_cell(entitlement)
