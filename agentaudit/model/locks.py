"""A lease per period in the evidence store, so two scheduled runs for one period do not clash.

A row per held period: who holds it and until when. Taking it is one INSERT, which the primary
key makes atomic on SQLite and PostgreSQL alike; a lease past its expiry (a run that crashed)
is taken over. A live run renews its lease every third of its term, so a run that outlasts
`lock_minutes` keeps the period. The table is created on first use, beside the versioned schema.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from agentaudit.errors import AgentAuditError
from agentaudit.model.store import Store

_metadata = sa.MetaData()
locks = sa.Table(
    "period_locks",
    _metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)


class LockHeldError(AgentAuditError):
    """Another run holds the lock for this period."""


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def acquire(store: Store, name: str, holder: str, ttl: timedelta, now: datetime | None = None) -> None:
    """Take the lease on `name` or raise LockHeldError naming its holder and expiry."""
    moment = now or datetime.now(UTC)
    store.create()  # a new SQLite store is made on first use; taking a lock is one
    try:
        with store.engine.begin() as conn:
            locks.create(conn, checkfirst=True)
            conn.execute(sa.delete(locks).where(locks.c.name == name, locks.c.expires_at < moment))
            conn.execute(sa.insert(locks).values(name=name, holder=holder, acquired_at=moment, expires_at=moment + ttl))
        return
    except sa.exc.IntegrityError:
        pass
    except sa.exc.SQLAlchemyError as exc:
        raise AgentAuditError(f"evidence store {store.url}: cannot take the lock {name!r}: {exc}") from None
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(locks.c.holder, locks.c.acquired_at, locks.c.expires_at).where(locks.c.name == name)
        ).first()
    if row is None:  # released between our insert and this read: try once more
        return acquire(store, name, holder, ttl, now)
    raise LockHeldError(
        f"{name} is locked by another run ({row.holder}, since {_utc(row.acquired_at):%Y-%m-%d %H:%M UTC}, "
        f"until {_utc(row.expires_at):%Y-%m-%d %H:%M UTC}); not started"
    )


def renew(store: Store, name: str, holder: str, ttl: timedelta, now: datetime | None = None) -> bool:
    """Extend a lease `holder` still holds; False when it lapsed and another run took it."""
    moment = now or datetime.now(UTC)
    with store.engine.begin() as conn:
        done = conn.execute(
            sa.update(locks).where(locks.c.name == name, locks.c.holder == holder).values(expires_at=moment + ttl)
        )
    return bool(done.rowcount)


def _keep_renewed(store: Store, name: str, holder: str, ttl: timedelta, stop: threading.Event) -> None:
    """Renew every third of the term until stopped; a failed renewal is tried again next beat
    (the lease is still valid for two more), a lease taken over ends the renewals."""
    while not stop.wait(ttl.total_seconds() / 3):
        try:
            if not renew(store, name, holder, ttl):
                return
        except sa.exc.SQLAlchemyError:
            continue


def release(store: Store, name: str, holder: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.delete(locks).where(locks.c.name == name, locks.c.holder == holder))


@contextmanager
def period_lock(store: Store, period: str, ttl: timedelta) -> Iterator[str]:
    """Hold `period`'s lease for the body, renewed while it runs; released however the body ends."""
    name, holder = f"run:{period}", holder_id()
    acquire(store, name, holder, ttl)
    stop = threading.Event()
    keeper = threading.Thread(
        target=_keep_renewed, args=(store, name, holder, ttl, stop), name=f"lease {name}", daemon=True
    )
    keeper.start()
    try:
        yield holder
    finally:
        stop.set()
        keeper.join()
        release(store, name, holder)
