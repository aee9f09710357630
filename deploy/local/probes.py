"""Is it answering yet: a TCP port, an HTTP path, a condition within a time."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit


def answers(url: str, default_port: int) -> bool:
    """True when something accepts TCP connections at the host and port ``url`` names."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def responds(port: int | str, path: str, status: int = 200) -> bool:
    """True when ``GET path`` on the local ``port`` answers ``status``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
            return bool(response.status == status)
    except urllib.error.HTTPError as error:
        return error.code == status
    except OSError:
        return False


def wait_until(predicate: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Poll ``predicate``; ``SystemExit`` naming ``what`` if it is not true in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"[stack] {what} did not come up within {timeout_s:.0f}s")
