"""A probe for the password hasher: counts the hashes running in their threads and can
hold them there, so a test sees how many ran at once without timing anything."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Long enough for any test; a broken test fails instead of hanging the run.
HOLD_AT_MOST_S = 30.0


class HashProbe:
    def __init__(self, *, holding: bool = False) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        if not holding:
            self._released.set()
        self.running = 0
        self.peak = 0
        self.ran = 0

    def hold(self) -> None:
        """Hashes that start from now on wait in their thread until ``release``."""
        with self._lock:
            self._released.clear()
            self.peak = self.running

    def release(self) -> None:
        self._released.set()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            self._released.wait(HOLD_AT_MOST_S)
            yield
        finally:
            with self._lock:
                self.running -= 1
                self.ran += 1


def legacy_hash(password: str) -> str:
    """``<hash hex>.<salt hex>`` at n=2**14, as auth stored passwords before the cost rose."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=64)
    return f"{key.hex()}.{salt.hex()}"
