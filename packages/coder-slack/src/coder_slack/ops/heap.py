"""The long-running commands' garbage-collector setting: the start-up heap is frozen once the process serves.

CPython's full (generation-2) collection walks every tracked object the process holds, and most of those are
what importing slack-bolt, slack_sdk, SQLAlchemy, pydantic, aiohttp and markdown-it built at start-up:
modules, classes, functions and caches that live as long as the process. Under sustained load (the
notification webhook at 200 requests/s) a full collection ran every 3–5 s and stopped every thread for
125–155 ms each time, which was the whole tail of the webhook's response times (p99 120–150 ms, p50 4 ms).
``gc.freeze()`` moves what exists once the process has started into the collector's permanent generation,
which full collections skip: they then take 11–19 ms (measured with ``gc.callbacks`` on ``coder-slack serve``
under that load), and the webhook's p99 fell to 55 ms (``tests/perf/results/notifications-gc.md``).
Reference counting still frees frozen objects that stop being used; only a reference cycle made entirely of
start-up objects would stay (there is none to speak of, and nothing built while serving is frozen).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_startup_heap() -> int:
    """Collect start-up garbage, then freeze what is left out of future full collections; how many objects
    were frozen. Called once a long-running command (``serve``, ``alerts``) has started, never in tests'
    processes (their heap is the test runner's)."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("froze %d start-up objects out of the garbage collector's full collections", frozen)
    return frozen
