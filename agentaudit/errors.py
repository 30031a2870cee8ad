"""Errors a user can act on: each names the file (and row/field) at fault."""

from __future__ import annotations

import re
from pathlib import Path

# scheme://user:password@host → scheme://user:***@host; also ?password=… / sig=… in query strings
# and AccountKey=… in Azure connection strings.
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s'\"]*:)[^@\s'\"]*@")
_QUERY_PASSWORD = re.compile(
    r"(?i)((?:[?&;]|\b)(?:password|passwd|pwd|secret|sig|token|AccountKey|SharedAccessSignature)=)[^&;\s'\"]+"
)


def redact_urls(text: str) -> str:
    """Mask credentials in every URL in `text`: error lines end up in cron logs and CI output."""
    return _QUERY_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))


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
    """The evidence store cannot be read or written. Its message never carries the store URL's
    password (the URL is named in it, and it is printed)."""

    def __init__(self, message: str):
        super().__init__(redact_urls(message))
