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

The young generations are collected less often too (``THRESHOLDS``): by default a collection runs every 700
allocations of container objects, and a 9:00 burst makes millions of them in seconds (2,000 snapshots parsed,
their alerts recorded and delivered), almost all freed by reference counting, not by the collector. Each of
three alert-engine replicas then spent 13–47 ms per generation-1 collection and 110–150 ms per full one while
the burst was being delivered. With generation 0 collected every 10,000 allocations (the later generations
every 10 of the one before, as CPython's 700/10/10), the burst's latest alert came ~0.5 s sooner (5 paired
runs: median 1.73 → 1.09 s, better in 4 of 5; ``tests/perf/results/fleet.md``). Garbage cycles wait longer to
be freed, which costs memory: a replica holding 1,500 of a 10,000-workspace fleet's streams grew from 178 to
194 MB; at 50,000 (which saved ~14 % of the replicas' CPU in the burst) it reached 281 MB, over the 250 MB
goal.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

# gc.set_threshold while serving (see above): CPython's default is (700, 10, 10).
THRESHOLDS = (10_000, 10, 10)


def freeze_startup_heap() -> int:
    """Collect start-up garbage, then freeze what is left out of future full collections, and collect the
    young generations less often (``THRESHOLDS``); how many objects were frozen. Called once a long-running
    command (``serve``, ``alerts``) has started, never in tests' processes (their heap is the test
    runner's)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    frozen = gc.get_freeze_count()
    log.debug(
        "froze %d start-up objects out of the garbage collector's full collections; thresholds %s",
        frozen,
        gc.get_threshold(),
    )
    return frozen
