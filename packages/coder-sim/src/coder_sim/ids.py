"""Seeded identifiers, so a run with the same ``seed`` hands out the same ids and tokens."""

from __future__ import annotations

import random
import string
import uuid

_TOKEN_ALPHABET = string.ascii_letters + string.digits


class IdSource:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def api_key(self) -> str:
        """A session token in Coder's ``<10-char id>-<22-char secret>`` shape."""
        key_id = "".join(self._rng.choice(_TOKEN_ALPHABET) for _ in range(10))
        secret = "".join(self._rng.choice(_TOKEN_ALPHABET) for _ in range(22))
        return f"{key_id}-{secret}"
