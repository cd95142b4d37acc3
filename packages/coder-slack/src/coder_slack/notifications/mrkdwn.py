"""Markdown (what Coder writes in ``title_markdown`` / ``body_markdown``) → Slack mrkdwn.

A small converter over markdown-it-py's syntax tree rather than one of the converters on PyPI: those
rewrite the text with regular expressions or render code verbatim, so ``<!channel>`` or ``<http://x|y>`` in
a notification (a custom notification's message, a build's reason) would reach Slack as a mention or a
link. Here every piece of text is escaped (``&``, ``<``, ``>``) before Slack's own syntax is put around it.

What it writes: ``**b**`` → ``*b*``, ``_i_`` → ``_i_``, ``~~s~~`` → ``~s~``, ``[t](u)`` → ``<u|t>`` (http,
https and mailto only; any other link keeps its text), lists as ``•`` / ``1.`` lines indented by level,
headings as bold lines, code spans and blocks in backticks, quotes as ``>`` lines, tables as lines of cells.
No markdown syntax is left in the output: what Slack cannot show is written as plain text.
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

# Coder's bodies come out of Go templates whose own indentation would make CommonMark's indented code blocks
# of ordinary lines (the failed-builds report's list is indented by four spaces): only fenced code is code.
_PARSER = (
    MarkdownIt("commonmark", {"html": False, "linkify": False})
    .enable(["strikethrough", "table"])
    .disable("code")
)
_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_BULLETS = ("•", "◦", "▪")
_INDENT = "    "
_FENCE = "```"


def escape(text: str) -> str:
    """Text safe inside mrkdwn: no mentions, links or entities of its own."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str) -> str | None:
    """The URL as it can stand inside ``<…|…>``, or None when it is not a web or mail link."""
    url = url.strip()
    if not url.lower().startswith(_SAFE_SCHEMES) or any(c.isspace() for c in url):
        return None
    return escape(url).replace("|", "%7C")


@dataclass(frozen=True)
class _Style:
    marks: bool  # Slack's *bold* / _italic_ / ~strike~ / `code` and <url|text> links; else plain text


_MRKDWN = _Style(marks=True)
_PLAIN = _Style(marks=False)


def _wrap(inner: str, mark: str, style: _Style) -> str:
    """``*x*`` with the spaces outside the marks (Slack ignores ``* x*``); nothing for empty text."""
    if not style.marks:
        return inner
    stripped = inner.strip()
    if not stripped:
        return inner
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()) :]
    return f"{lead}{mark}{stripped}{mark}{trail}"


def _inline(node: SyntaxTreeNode, style: _Style) -> str:
    return "".join(_span(child, style) for child in node.children)


def _span(node: SyntaxTreeNode, style: _Style) -> str:
    kind = node.type
    if kind == "text":
        return escape(node.content)
    if kind in ("softbreak", "hardbreak"):
        return "\n"
    if kind == "strong":
        return _wrap(_inline(node, style), "*", style)
    if kind == "em":
        return _wrap(_inline(node, style), "_", style)
    if kind == "s":
        return _wrap(_inline(node, style), "~", style)
    if kind == "code_inline":
        code = escape(node.content)
        return f"`{code.replace('`', 'ʼ')}`" if style.marks and code.strip() else code
    if kind in ("link", "image"):
        text = _inline(node, _PLAIN)  # an image's alt text is its children, as a link's text is
        href = str(node.attrs.get("href") or node.attrs.get("src") or "")
        url = safe_url(href)
        if url is None:
            return text
        bare = not text.strip() or text in (href, escape(href))
        if not style.marks:
            return url if bare else f"{text} ({url})"
        if bare:
            return f"<{url}>"
        return f"<{url}|{text.replace(chr(10), ' ')}>"
    # html_inline (html is off, so only defensively) and anything a future markdown-it adds: its text.
    return escape(node.content) + "".join(_span(child, style) for child in node.children)


def _bullet(ordered: bool, number: int, depth: int) -> str:
    return f"{number}." if ordered else _BULLETS[min(depth, len(_BULLETS) - 1)]


def _list(node: SyntaxTreeNode, style: _Style, depth: int) -> str:
    ordered = node.type == "ordered_list"
    start = node.attrs.get("start", 1) if ordered else 1
    number = int(start) if isinstance(start, (int, float, str)) and str(start).isdigit() else 1
    lines: list[str] = []
    for offset, item in enumerate(node.children):
        parts = [_block(child, style, depth + 1) for child in item.children]
        body = "\n".join(part for part in parts if part) or " "
        first, *rest = body.split("\n")
        lines.append(f"{_bullet(ordered, number + offset, depth)} {first}".rstrip())
        lines.extend(f"{_INDENT}{line}" if line else "" for line in rest)
    return "\n".join(lines)


def _code(content: str, style: _Style) -> str:
    code = escape(content.rstrip("\n"))
    if not style.marks:
        return code
    return f"{_FENCE}\n{code.replace(_FENCE, 'ʼʼʼ')}\n{_FENCE}" if code.strip() else ""


def _table(node: SyntaxTreeNode, style: _Style) -> str:
    rows: list[str] = []
    for section in node.children:  # thead, tbody
        for row in section.children:
            cells = [_inline(cell.children[0], style) if cell.children else "" for cell in row.children]
            line = " | ".join(cell.strip() for cell in cells)
            rows.append(_wrap(line, "*", style) if section.type == "thead" else line)
    return "\n".join(rows)


def _block(node: SyntaxTreeNode, style: _Style, depth: int = 0) -> str:
    kind = node.type
    if kind == "paragraph":
        return "".join(_inline(child, style) for child in node.children).strip()
    if kind == "inline":
        return _inline(node, style).strip()
    if kind == "heading":
        title = " ".join("".join(_inline(child, _PLAIN) for child in node.children).split())
        return _wrap(title, "*", style)
    if kind in ("bullet_list", "ordered_list"):
        return _list(node, style, depth)
    if kind == "blockquote":
        inner = "\n".join(p for p in (_block(c, style, depth) for c in node.children) if p)
        if not style.marks:
            return inner
        return "\n".join(f"> {line}" if line else ">" for line in inner.split("\n"))
    if kind in ("fence", "code_block"):
        return _code(node.content, style)
    if kind == "hr":
        return "───" if style.marks else ""
    if kind == "table":
        return _table(node, style)
    if kind == "html_block":
        return escape(node.content.strip())
    return "\n".join(p for p in (_block(c, style, depth) for c in node.children) if p)


def mrkdwn_blocks(markdown: str) -> list[str]:
    """The markdown's top-level blocks (paragraphs, lists, code, ...) as mrkdwn, in order."""
    tree = SyntaxTreeNode(_PARSER.parse(markdown))
    return [text for text in (_block(child, _MRKDWN) for child in tree.children) if text]


def to_mrkdwn(markdown: str) -> str:
    """The whole markdown as mrkdwn, blocks separated by a blank line."""
    return "\n\n".join(mrkdwn_blocks(markdown))


def to_plain(markdown: str) -> str:
    """The markdown as plain text (still escaped for Slack): for fallback text and notification previews."""
    tree = SyntaxTreeNode(_PARSER.parse(markdown))
    blocks = [text for text in (_block(child, _PLAIN) for child in tree.children) if text]
    return "\n".join(blocks)


def _split_block(block: str, limit: int) -> list[str]:
    """One block longer than ``limit``: cut at line ends (a code block stays fenced in every part)."""
    fenced = block.startswith(_FENCE + "\n") and block.endswith("\n" + _FENCE)
    body = block[len(_FENCE) + 1 : -(len(_FENCE) + 1)] if fenced else block
    room = limit - (2 * len(_FENCE) + 2 if fenced else 0)
    parts: list[str] = []
    current = ""
    for line in body.split("\n"):
        while len(line) > room:
            if current:
                parts.append(current)
                current = ""
            cut = _safe_cut(line, room)
            parts.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > room:
            parts.append(current)
            candidate = line
        current = candidate
    if current:
        parts.append(current)
    return [f"{_FENCE}\n{part}\n{_FENCE}" for part in parts] if fenced else parts


def _safe_cut(line: str, room: int) -> int:
    """Where to cut an overlong line: before ``room``, never inside an escape (``&amp;``) or a ``<link>``."""
    cut = room
    amp = line.rfind("&", max(0, cut - 5), cut)
    if amp != -1 and ";" not in line[amp:cut]:
        cut = amp
    opening = line.rfind("<", 0, cut)
    if opening > 0 and line.rfind(">", opening, cut) == -1:
        cut = opening
    return max(cut, 1)


def pack(blocks: list[str], limit: int = 3000) -> list[str]:
    """Blocks joined into as few texts of at most ``limit`` characters as they fit in, split only between
    blocks (or, for one block that is too long, between its lines)."""
    texts: list[str] = []
    current = ""
    for block in blocks:
        pieces = [block] if len(block) <= limit else _split_block(block, limit)
        for piece in pieces:
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) > limit:
                texts.append(current)
                candidate = piece
            current = candidate
    if current:
        texts.append(current)
    return [text for text in texts if text]


__all__ = ["escape", "mrkdwn_blocks", "pack", "safe_url", "to_mrkdwn", "to_plain"]
