"""defaults and version."""

from __future__ import annotations

import sys

from agentaudit import __version__
from agentaudit.cli.common import app
from agentaudit.config import DEFAULTS_YAML


@app.command()
def defaults() -> None:
    """Print the default policy config (every key a config file may set)."""
    sys.stdout.write(DEFAULTS_YAML)


@app.command()
def version() -> None:
    """Print the agentaudit version."""
    print(__version__)
