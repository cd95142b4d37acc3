"""Build timings on the status card and the alerts (Block Kit only): where a startup's time went.

One line (``⏱ Install Python packages 1m34s of 2m41s``, and ``· slower than usual (median 1m10s over the
last 5 builds)`` when it was) on the card and on the ready / start_error / start_timeout alerts; the whole
breakdown, a line per step, in the card's details. Nothing at all without timings (Coder before v2.17).
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from coder_slack.build_timings import TimingNote
from coder_slack.views.common import clip, escape

TIMINGS_BLOCK = "build_timings"
DETAILS_BLOCK = "build_timings_details"
MAX_DETAIL_LINES = 30
TEXT_LIMIT = 3000


def timing_line(note: TimingNote) -> str:
    """``⏱ Install Python packages 1m34s of 2m41s · _slower than usual (…)_``."""
    line = f"⏱ {escape(note.summary)}"
    if note.slower:
        line += f" · :snail: _{escape(note.slower)}_"
    return clip(line, TEXT_LIMIT)


def timing_blocks(note: TimingNote | None) -> list[Block]:
    """The one-line summary as a context block (alerts; the card's first timings block)."""
    if note is None:
        return []
    return [ContextBlock(block_id=TIMINGS_BLOCK, elements=[MarkdownTextObject(text=timing_line(note))])]


def timing_details(note: TimingNote | None) -> list[Block]:
    """The whole breakdown, a line per step in start order, for the card's details."""
    if note is None or not note.lines:
        return []
    lines = [f"• {escape(line)}" for line in note.lines[:MAX_DETAIL_LINES]]
    if len(note.lines) > MAX_DETAIL_LINES:
        lines.append(f"…and {len(note.lines) - MAX_DETAIL_LINES} more steps")
    text = clip("*Where the time went*\n" + "\n".join(lines), TEXT_LIMIT)
    return [SectionBlock(block_id=DETAILS_BLOCK, text=MarkdownTextObject(text=text))]
