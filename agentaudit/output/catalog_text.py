"""The catalog's own prose (why, remediation) is written in inline Markdown: rendered as HTML for
the PDF and page, and as plain words for the workbook, OCSF and Audit Manager, which would otherwise
show raw backticks and asterisks. Raw HTML and images are off: a catalog or plug-in author cannot
make a page fetch anything."""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt
from markupsafe import Markup


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).disable(["image"])


def catalog_markdown(text: str) -> Markup:
    """Inline Markdown as HTML (our text, not the estate's)."""
    return Markup(_markdown().renderInline(str(text)))


def catalog_plain(text: str) -> str:
    """Inline Markdown as plain words: code and emphasis lose their marks, a link keeps its address."""
    words: list[str] = []
    for block in _markdown().parseInline(str(text)):
        href = None
        for token in block.children or []:
            if token.type in ("text", "code_inline"):
                words.append(token.content)
            elif token.type in ("softbreak", "hardbreak"):
                words.append(" ")
            elif token.type == "link_open":
                href = str(token.attrGet("href") or "")
            elif token.type == "link_close" and href:
                words.append(f" ({href})")
                href = None
    return "".join(words)
