"""coder_sim: a stand-in for Coder's API v2 (the v0.25 and the 2026 era) for demos and tests."""

from .context import RecordedBody
from .eras import ERA_NAMES
from .server import SimServer

__all__ = ["ERA_NAMES", "RecordedBody", "SimServer"]
