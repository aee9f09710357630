"""Starting a service in a test: in process behind aiohttp's test client, or as a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp.test_utils import TestClient

from shared.web import DEPENDENCIES

Client = TestClient[Any, Any]

# What a child process keeps of the test runner's environment; the rest it is given.
KEPT_VARIABLES = frozenset({"PATH", "HOME", "LANG"})


async def opened(client: Client, timeout_s: float = 30.0) -> Client:
    """``client`` once its app's dependencies are open (they open in the background)."""
    await client.app[DEPENDENCIES].opened(timeout_s)
    return client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**variables: str) -> dict[str, str]:
    """A child's environment: ``variables`` and only the basics of ours."""
    return {**{k: v for k, v in os.environ.items() if k in KEPT_VARIABLES}, **variables}


def responds(port: int | str, path: str, status: int = 200) -> bool:
    """True when ``GET path`` on the local ``port`` answers ``status``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as response:
            return bool(response.status == status)
    except urllib.error.HTTPError as error:
        return error.code == status
    except OSError:
        return False


def wait_for(
    port: int | str, path: str = "/readyz", status: int = 200, timeout_s: float = 20.0
) -> None:
    """Poll until ``GET path`` answers ``status``; ``AssertionError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if responds(port, path, status):
            return
        time.sleep(0.1)
    raise AssertionError(f"no {status} from {path} on :{port} within {timeout_s}s")


@contextmanager
def running(module: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``python -m module`` with ``env``, its output (merged) in a pipe; killed on exit if
    the test left it running."""
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
