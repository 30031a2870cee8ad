"""Errors a user can act on: each names the file (and row/field) at fault."""

from __future__ import annotations

from pathlib import Path


class AgentAuditError(Exception):
    """Base for errors shown to users as one line, never as a traceback."""


class InputError(AgentAuditError):
    """Bad input: a file, a row or a field that cannot be used as it is."""

    def __init__(self, message: str, path: str | Path | None = None, where: str | None = None):
        self.path = str(path) if path is not None else None
        self.where = where
        self.reason = message
        location = ""
        if self.path:
            location = self.path + (f" ({where})" if where else "") + ": "
        elif where:
            location = where + ": "
        super().__init__(location + message)


class StoreError(AgentAuditError):
    """The evidence store cannot be read or written."""
