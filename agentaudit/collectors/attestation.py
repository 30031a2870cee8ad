"""Read an owner's returned attestation workbook into decisions, or refuse it whole.

The file is untrusted: its size and its zip container are checked before any XML is parsed,
openpyxl parses through defusedxml, formulas are never evaluated (a formula where a decision
belongs is an error), and every row must carry the integrity code its campaign issued. Any
problem rejects the whole file with the sheet, row and column at fault; nothing is half-imported.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

from agentaudit.errors import InputError
from agentaudit.model import attestation as fmt
from agentaudit.model.campaigns import Campaign
from agentaudit.model.records import Attestation, Decision

MAX_ZIP_MEMBERS = 500
MAX_RATIO = 100  # real workbooks unpack to 5-20 times their size; a zip bomb to thousands
UNPACKED_FACTOR = 10  # and never to more than this many times the file size limit
MAX_COMMENT = 4_000
MAX_ERRORS = 20


@dataclass(frozen=True)
class Returned:
    campaign: Campaign
    reviewer: str
    file_name: str
    file_sha256: str
    decisions: list[Attestation]
    undecided: int


class _Problems:
    """Collects row errors so an owner sees them all at once, up to a limit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[str] = []
        self.more = 0

    def add(self, where: str, message: str) -> None:
        if len(self.lines) < MAX_ERRORS:
            self.lines.append(f"{where}: {message}")
        else:
            self.more += 1

    def raise_if_any(self) -> None:
        if self.lines:
            more = f"\n  … and {self.more} more" if self.more else ""
            detail = "\n  ".join(self.lines)
            raise InputError(
                f"{len(self.lines) + self.more} problem(s), nothing imported:\n  {detail}{more}", self.path
            )


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: Office encryption, or an old .xls
MACRO_PARTS = ("xl/vbaproject.bin", "xl/vbaprojectsignature.bin", "xl/macrosheets/")


def _check_container(path: Path, data: bytes, max_bytes: int) -> None:
    if data.startswith(OLE_MAGIC):
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise InputError(
                "the workbook is password-protected; remove the password (File > Info) and send it again", path
            )
        raise InputError("an old-format .xls workbook; save it as an Excel .xlsx file and send it again", path)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise InputError("not an .xlsx workbook (save it as an Excel .xlsx file and send it again)", path) from None
    members = archive.infolist()
    macros = [m.filename for m in members if m.filename.lower().startswith(MACRO_PARTS)]
    types = next((m for m in members if m.filename == "[Content_Types].xml"), None)
    if types is not None and types.file_size < 1_000_000 and b"macroEnabled" in archive.read(types):
        macros.append("[Content_Types].xml: macro-enabled workbook")
    if macros:
        raise InputError(
            f"the workbook contains macros ({macros[0]}); save it as a plain .xlsx and send it again", path
        )
    if len(members) > MAX_ZIP_MEMBERS:
        raise InputError(f"the workbook holds {len(members)} parts; at most {MAX_ZIP_MEMBERS} are accepted", path)
    if any(m.flag_bits & 0x1 for m in members):
        raise InputError("the workbook is encrypted; remove the password and send it again", path)
    unpacked = sum(m.file_size for m in members)
    if unpacked > max(len(data) * MAX_RATIO, 1_000_000) or unpacked > max_bytes * UNPACKED_FACTOR:
        raise InputError(
            f"the workbook unpacks to {unpacked:,} bytes from {len(data):,}: refused as a possible zip bomb", path
        )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _meta(path: Path, book: Any) -> dict[str, str]:
    if fmt.META_SHEET not in book.sheetnames or fmt.REVIEW_SHEET not in book.sheetnames:
        raise InputError(
            f"no {fmt.REVIEW_SHEET!r} and {fmt.META_SHEET!r} sheets: not an agentaudit attestation workbook", path
        )
    pairs: dict[str, str] = {}
    for row in book[fmt.META_SHEET].iter_rows(min_row=1, max_row=20, max_col=2, values_only=True):
        key, value = (_text(v) for v in [*row, None, None][:2])
        if key and value:
            pairs[key] = value
    if "reviewer" in pairs:
        pairs["reviewer"] = fmt.from_cell(pairs["reviewer"])  # as issued: the owner exactly
    if pairs.get("format") != fmt.FORMAT:
        raise InputError(f"sheet {fmt.META_SHEET!r}: format is {pairs.get('format')!r}, expected {fmt.FORMAT}", path)
    for key in ("campaign", "reviewer", "rows", "code"):
        if key not in pairs:
            raise InputError(f"sheet {fmt.META_SHEET!r}: {key!r} is missing", path)
    return pairs


def _campaign(path: Path, meta: dict[str, str], lookup: Callable[[int], Campaign | None]) -> Campaign:
    try:
        campaign_id, rows = int(meta["campaign"]), int(meta["rows"])
    except ValueError:
        raise InputError(f"sheet {fmt.META_SHEET!r}: campaign and rows must be numbers", path) from None
    campaign = lookup(campaign_id)
    if campaign is None:
        raise InputError(
            f"campaign {campaign_id} is not in this evidence store (was the pack made with another --store?)", path
        )
    expected = fmt.meta_code(campaign.secret, campaign.id, meta["reviewer"], rows)
    if not fmt.codes_match(expected, meta["code"]):
        raise InputError(f"sheet {fmt.META_SHEET!r}: campaign, reviewer or row count was changed", path)
    return campaign


def _header(rows: Iterator[tuple[Any, ...]]) -> tuple[int, dict[str, int]]:
    """The header row (by its column names, so inserted or moved columns still work)."""
    for number, row in enumerate(rows, start=1):
        names = {_text(v): i for i, v in enumerate(row) if _text(v)}
        if fmt.ROW_ID in names and fmt.DECISION in names:
            missing = [c for c in (fmt.COMMENT, fmt.CODE) if c not in names]
            if missing:
                raise ValueError(f"row {number}: column(s) {', '.join(missing)} missing")
            return number, {k: v for k, v in names.items() if k is not None}
        if number >= 30:
            break
    raise ValueError(f"no header row with {fmt.ROW_ID!r} and {fmt.DECISION!r} in the first 30 rows")


def _decision(value: Any) -> tuple[Decision | None, str | None]:
    """(the decision or None for an empty cell, the problem with the cell or None)."""
    if isinstance(value, str) and value.startswith("="):
        return None, "holds a formula; type Keep, Revoke or Modify"
    text = _text(value)
    if text is None:
        return None, None
    try:
        return Decision(text.lower()), None
    except ValueError:
        return None, f"{text!r} is not one of {', '.join(fmt.DECISIONS)}"


def read_returned(path: Path, lookup: Callable[[int], Campaign | None], max_bytes: int, now: datetime) -> Returned:
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(f"{size:,} bytes is over the {max_bytes:,}-byte limit (config attestation.max_file_mb)", path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    _check_container(path, data, max_bytes)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a damaged file; name it, no traceback
        cause = exc.__cause__ or exc.__context__ or exc  # e.g. defusedxml's EntitiesForbidden under a ValueError
        first_line = str(cause).splitlines()[0] if str(cause) else ""
        raise InputError(f"cannot read the workbook: {type(cause).__name__}: {first_line}", path) from None
    try:
        meta = _meta(path, book)
        campaign = _campaign(path, meta, lookup)
        sheet = book[fmt.REVIEW_SHEET]
        decisions, undecided = _rows(path, sheet, campaign, meta["reviewer"], digest, now, int(meta["rows"]))
    finally:
        book.close()
    return Returned(campaign, meta["reviewer"], path.name, digest, decisions, undecided)


@dataclass
class _ReviewSheet:
    """One returned review sheet: finds cells by header, checks each row, builds decisions."""

    path: Path
    columns: dict[str, int]
    campaign: Campaign
    reviewer: str
    problems: _Problems
    seen: dict[str, int] = field(default_factory=dict)

    def cell(self, row: tuple[Any, ...], name: str) -> Any:
        index = self.columns.get(name)
        return row[index] if index is not None and index < len(row) else None

    def decided(self, number: int, row: tuple[Any, ...]) -> tuple[str, Decision, str | None] | bool:
        """(Row ID, decision, comment) for a decided row; True for an issued row left undecided;
        False for a row that is skipped or has a problem (recorded)."""
        where = f"sheet {fmt.REVIEW_SHEET!r} row {number}"
        row_id, (decision, problem) = _text(self.cell(row, fmt.ROW_ID)), _decision(self.cell(row, fmt.DECISION))
        comment = _text(self.cell(row, fmt.COMMENT))
        if row_id is None:
            if decision is not None or problem is not None:
                self.problems.add(
                    where, "a decision on a row without a Row ID (rows typed in by hand cannot be imported)"
                )
            return False
        if not self._genuine(where, row_id, row, number):
            return False
        if problem is not None:
            self.problems.add(
                f"{where} column {get_column_letter(self.columns[fmt.DECISION] + 1)}", f"Decision {problem}"
            )
            return False
        if decision is None:
            return True
        if decision is Decision.MODIFY and not comment:
            self.problems.add(where, "Modify needs a comment saying what to change")
            return False
        if comment and len(comment) > MAX_COMMENT:
            self.problems.add(where, f"comment is {len(comment):,} characters; at most {MAX_COMMENT:,}")
            return False
        return row_id, decision, comment

    def _genuine(self, where: str, row_id: str, row: tuple[Any, ...], number: int) -> bool:
        """The row was issued to this reviewer in this campaign, and appears once."""
        code = fmt.row_code(self.campaign.secret, self.campaign.id, self.reviewer, row_id)
        if not fmt.codes_match(code, _text(self.cell(row, fmt.CODE)) or ""):
            self.problems.add(
                where, f"Row ID {row_id!r} does not match its integrity code (edited, or from another workbook)"
            )
            return False
        if row_id in self.seen:
            self.problems.add(where, f"Row ID {row_id!r} appears again (first on row {self.seen[row_id]})")
            return False
        self.seen[row_id] = number
        return True

    def attestation(
        self, decided: tuple[str, Decision, str | None], row: tuple[Any, ...], now: datetime, digest: str
    ) -> Attestation:
        row_id, decision, comment = decided
        kind, subject, entitlement = fmt.parse_row_id(row_id)
        label = " / ".join(t for t in (_text(self.cell(row, fmt.IDENTITY)), _text(self.cell(row, fmt.ITEM))) if t)
        return Attestation(
            campaign_id=self.campaign.id,
            period=self.campaign.period,
            reviewer=self.reviewer,
            row_id=row_id,
            kind=kind,
            subject_uid=subject,
            identity_uid=subject if kind != "credential" else None,
            entitlement=entitlement,
            label=label[:500],
            decision=decision,
            comment=comment,
            decided_at=now,
            file_name=self.path.name,
            file_sha256=digest,
        )


def _rows(
    path: Path, sheet: Any, campaign: Campaign, reviewer: str, digest: str, now: datetime, issued: int
) -> tuple[list[Attestation], int]:
    # Read-only openpyxl trusts the sheet's <dimension ref>, which any writer may get wrong (one
    # that understated it made 47 of 53 decisions vanish): forget it and read every row there is.
    sheet.reset_dimensions()
    rows = sheet.iter_rows(values_only=True)
    try:
        header_number, columns = _header(rows)
    except ValueError as exc:
        raise InputError(f"sheet {fmt.REVIEW_SHEET!r}: {exc}", path) from None
    review = _ReviewSheet(path, columns, campaign, reviewer, _Problems(path))
    decisions: list[Attestation] = []
    undecided = 0
    for number, row in enumerate(rows, start=header_number + 1):
        decided = review.decided(number, row)
        if isinstance(decided, tuple):
            decisions.append(review.attestation(decided, row, now, digest))
        elif decided:
            undecided += 1
    if len(review.seen) != issued:
        review.problems.add(
            f"sheet {fmt.REVIEW_SHEET!r}",
            f"holds {len(review.seen)} of the {issued} rows issued; rows may not be removed "
            "(leave a Decision empty to decide later)",
        )
    review.problems.raise_if_any()
    return decisions, undecided
