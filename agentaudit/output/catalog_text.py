"""The catalog's own prose (why, remediation) is written in inline Markdown: rendered as HTML for
the PDF and page, and as plain words for the workbook, OCSF and Audit Manager, which would otherwise
show raw backticks and asterisks. Raw HTML and images are off: a catalog or plug-in author cannot
make a page fetch anything. An asterisk is always literal: the prose is full of IAM wildcards
(Action "*" on Resource "*", s3:Get*, role/*) that CommonMark would pair into italics, dropping the
asterisks and changing what a control says it asserts; `_emphasis_` and `__strong__` still work."""

from __future__ import annotations

from functools import cache

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markupsafe import Markup


def _literal_asterisk(state: StateInline, silent: bool) -> bool:
    """Runs before the emphasis rule: an asterisk becomes text, so it never opens or closes one."""
    if state.src[state.pos] != "*":
        return False
    if not silent:
        state.pending += "*"
    state.pos += 1
    return True


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).disable(["image"])
    md.inline.ruler.before("emphasis", "literal_asterisk", _literal_asterisk)
    return md


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
