"""Attestation campaigns in the evidence store: the secret each issue of owner workbooks is keyed
with, and the decisions imported from the returned workbooks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agentaudit.model import records as r
from agentaudit.model.bulk import insert_records, read_columns
from agentaudit.model.schema import as_utc, attestation_imports, attestations_table, campaigns, new_id


@dataclass(frozen=True)
class Campaign:
    id: int
    period: str
    run_id: int
    snapshot_id: int
    created_at: datetime
    secret: bytes


@dataclass(frozen=True)
class ImportRecord:
    """What one returned workbook added: its decisions are in the attestations table."""

    campaign_id: int
    reviewer: str
    file_name: str
    file_sha256: str
    imported_at: datetime
    decisions: int
    undecided: int


def create_campaign(conn: Connection, period: str, run_id: int, snapshot_id: int) -> Campaign:
    secret = secrets.token_bytes(32)
    created = datetime.now(UTC)
    result = conn.execute(
        campaigns.insert().values(
            period=period, run_id=run_id, snapshot_id=snapshot_id, created_at=created, secret=secret.hex()
        )
    )
    return Campaign(new_id(result), period, run_id, snapshot_id, created, secret)


def campaign(conn: Connection, campaign_id: int) -> Campaign | None:
    row = conn.execute(sa.select(campaigns).where(campaigns.c.id == campaign_id)).first()
    if row is None:
        return None
    return Campaign(
        int(row.id),
        row.period,
        int(row.run_id),
        int(row.snapshot_id),
        as_utc(row.created_at),
        bytes.fromhex(row.secret),
    )


def find_import(conn: Connection, file_sha256: str) -> ImportRecord | None:
    row = conn.execute(sa.select(attestation_imports).where(attestation_imports.c.file_sha256 == file_sha256)).first()
    if row is None:
        return None
    return ImportRecord(
        int(row.campaign_id),
        row.reviewer,
        row.file_name,
        row.file_sha256,
        as_utc(row.imported_at),
        int(row.decisions),
        int(row.undecided),
    )


def write_attestations(conn: Connection, record: ImportRecord, decisions: list[r.Attestation]) -> int:
    """One returned workbook: its import record and all its decisions (one transaction, the caller's)."""
    result = conn.execute(
        attestation_imports.insert().values(
            campaign_id=record.campaign_id,
            reviewer=record.reviewer,
            file_name=record.file_name,
            file_sha256=record.file_sha256,
            imported_at=record.imported_at,
            decisions=record.decisions,
            undecided=record.undecided,
        )
    )
    import_id = new_id(result)
    insert_records(conn, attestations_table, decisions, "import_id", import_id)
    return import_id


def read_attestations(conn: Connection, periods: list[str]) -> pd.DataFrame:
    """Decisions of these periods, oldest import first (a later decision on a row wins)."""
    columns = [c for c in attestations_table.c]
    frame = read_columns(conn, columns, attestations_table.c.period.in_(periods))
    return frame.sort_values(["import_id", "row_id"], kind="stable").reset_index(drop=True)
