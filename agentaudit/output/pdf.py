"""Render the review pack: one Jinja2 template → HTML → WeasyPrint (PDF), or the same HTML as a
self-contained interactive page (review-pack.html: inline CSS, script and SVG charts; no request
leaves the file).

Estate text (names, tags, evidence values) is only ever escaped: it passes `visible` (invisible
controls shown as [U+XXXX]) or `breakable` (the same, plus break opportunities after / : . @ -).
Only the catalog's own text (remediation, why) is rendered as Markdown (`catalog_text`).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from agentaudit.output.catalog_text import catalog_markdown
from agentaudit.output.packdata import PackData
from agentaudit.output.packtables import natural_sorted

# Bidi overrides/isolates and other invisible controls can make a name display as another.
_INVISIBLE = re.compile("[\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
MAX_CELL = 300
# Where a long identifier may wrap: after a separator, but not inside a control id like OWN-001.
# (A run too long for its column even then, such as a hash, wraps anywhere: CSS overflow-wrap.)
# Only words of LONG_WORD characters or more get break points: each <wbr> is an element
# WeasyPrint lays out, and on every short word they doubled the PDF's layout time.
_BREAK_AFTER = re.compile(r"(?<=[/:.@])(?=\S)|(?<=[a-z0-9_]-)(?![0-9]{3}\b)(?=\S)")
LONG_WORD = 16
_WORD = re.compile(r"\S+")
# In the PDF a word needs break points only if it may not fit its column on one line: a word that
# fits moves whole to the next line. Column room in characters = its share of the 273 mm between
# the page margins, less cell padding, over a wide DejaVu Sans glyph (0.75 em). A word judged
# wrongly still wraps (overflow-wrap), only not at a separator. Most identifiers fit: this leaves
# out 9 in 10 break points, each an element WeasyPrint styles, lays out and draws.
PAGE_MM, PADDING_MM, GLYPH_EM, MM_PER_PT = 273.0, 3.0, 0.75, 25.4 / 72


def _shown(value: Any) -> str:
    text = str(value)
    if len(text) > MAX_CELL:
        text = text[:MAX_CELL] + f"… ({len(text):,} characters)"
    return _INVISIBLE.sub(lambda m: f"[U+{ord(m.group()):04X}]", text)


def visible(value: Any) -> Markup:
    """Escape, show invisible controls as [U+XXXX], and shorten very long values."""
    return Markup(escape(_shown(value)))


def breakable(value: Any, room: int = LONG_WORD) -> Markup:
    """`visible`, with line-break opportunities only where an identifier may break, in words of
    `room` characters or more (the words that may not fit their column)."""
    escaped = str(escape(_shown(value)))
    room = max(room, LONG_WORD)

    def points(word: re.Match[str]) -> str:
        text = word.group()
        # Escaped length overstates the characters shown (&amp; is one): it errs towards breaking.
        return _BREAK_AFTER.sub("<wbr>", text) if len(text) >= room else text

    return Markup(_WORD.sub(points, escaped))


def column_room(percent: float, share: float = 100, font_pt: float = 8.5) -> int:
    """How many characters surely fit on one line of a column `percent` % wide of a table
    `share` % of the page wide."""
    width_mm = PAGE_MM * percent * share / 10_000 - PADDING_MM
    return max(LONG_WORD, int(width_mm / (GLYPH_EM * font_pt * MM_PER_PT)))


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("agentaudit", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=False,
    )
    env.filters["visible"] = visible
    env.filters["breakable"] = breakable
    env.filters["markdown"] = catalog_markdown
    env.filters["count"] = lambda n: f"{int(n):,}"
    env.filters["natural"] = natural_sorted
    return env


def _room(view: str) -> Any:
    """A browser window has no fixed column width: there every long word gets its break points."""
    return column_room if view == "pdf" else lambda *_args: LONG_WORD


def _asset(name: str) -> Markup:
    return Markup(resources.files("agentaudit.templates").joinpath(name).read_text(encoding="utf-8"))


def render_html(data: PackData, view: str = "pdf") -> str:
    """The pack as HTML; `view="html"` adds the screen style and the table sort/filter script."""
    env = _environment()
    env.filters["room"] = _room(view)
    template = env.get_template("pack.html.j2")
    context = {
        "view": view,
        "css": _asset("pack.css"),
        "screen_css": _asset("screen.css") if view == "html" else "",
        "script": _asset("tables.js") if view == "html" else "",
        "meta": data.meta,
        "totals": data.totals,
        "controls": data.controls,
        "families": data.families,
        "top_owners": data.top_owners,
        "top_units": data.top_units,
        "owner_gaps": data.owner_gaps,
        "by_control": data.by_control,
        "by_owner": data.by_owner,
        "owners_omitted": data.owners_omitted,
        "evidence_scope": data.evidence_scope,
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


def write_pdf(data: PackData, path: Path, tagged: bool = True) -> None:
    """The pack as PDF; `tagged`: PDF/UA-1 (headings, tables and reading order for assistive
    technology). A PAdES-B-LT pack (timestamped, validation data appended after the signature) is
    not tagged: pyHanko's modification analysis of that appended revision walks the whole structure
    tree, which took over 20 minutes per validation of a timestamped test pack (the demo pack, B-B:
    4 s)."""
    from weasyprint import HTML  # imported late: it loads Pango, which only the pack needs

    variant = {"pdf_variant": "pdf/ua-1"} if tagged else {}
    HTML(string=render_html(data), base_url=str(path.parent)).write_pdf(path, **variant)


def write_html(data: PackData, path: Path) -> None:
    """review-pack.html: the same content, one file, readable offline in any browser."""
    path.write_text(render_html(data, view="html"), encoding="utf-8")


__all__ = ["breakable", "catalog_markdown", "render_html", "visible", "write_html", "write_pdf"]
