"""The command line: parses options, calls agentaudit.pipeline, prints. No logic of its own.

One module per group of commands; `common` holds the options, exit codes and error guard they share.
"""

from __future__ import annotations

from typing import Any

# Imported in the order `agentaudit --help` lists the commands; each module registers its own.
from agentaudit.cli import admin, catalog, collecting, exporting, info  # noqa: F401
from agentaudit.cli.common import EXIT_EXPORT, EXIT_GAPS, EXIT_INPUT, EXIT_LOCKED, EXIT_OK, app


def main() -> Any:
    return app()


__all__ = ["EXIT_EXPORT", "EXIT_GAPS", "EXIT_INPUT", "EXIT_LOCKED", "EXIT_OK", "app", "main"]
