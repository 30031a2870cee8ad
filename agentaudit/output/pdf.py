"""Render the review-pack PDF: Jinja2 template → HTML → WeasyPrint."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from agentaudit.output.packdata import PackData

# Bidi overrides/isolates and other invisible controls can make a name display as another.
_INVISIBLE = re.compile("[\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
MAX_CELL = 300


def visible(value: Any) -> Markup:
    """Escape, show invisible controls as [U+XXXX], and shorten very long values."""
    text = str(value)
    if len(text) > MAX_CELL:
        text = text[:MAX_CELL] + f"… ({len(text):,} characters)"
    text = _INVISIBLE.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)
    return Markup(escape(text))


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("agentaudit", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=False,
    )
    env.filters["visible"] = visible
    return env


def render_html(data: PackData) -> str:
    css = resources.files("agentaudit.templates").joinpath("pack.css").read_text(encoding="utf-8")
    template = _environment().get_template("pack.html.j2")
    context = {
        "css": Markup(css),
        "meta": data.meta,
        "totals": data.totals,
        "controls": data.controls,
        "owner_gaps": data.owner_gaps,
        "by_control": data.by_control,
        "by_owner": data.by_owner,
        "owners_omitted": data.owners_omitted,
        "credentials": data.credentials,
        "tools": data.tools,
        "sources": data.sources,
        "attestation": data.attestation,
        "catalog": data.catalog,
        "frameworks": data.catalog.frameworks,
        "charts": data.charts,
        "frameworks_view": data.framework_frame.to_dict("records"),
    }
    return template.render(**context)


def write_pdf(data: PackData, path: Path) -> None:
    from weasyprint import HTML  # imported late: it loads Pango, which only the pack needs

    HTML(string=render_html(data), base_url=str(path.parent)).write_pdf(path)


__all__ = ["render_html", "visible", "write_pdf"]
