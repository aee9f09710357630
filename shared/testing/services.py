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

from aiohttp import web
from aiohttp.test_utils import TestClient

from deploy.local.probes import responds
from shared.testing.poll import eventually
from shared.web.health import READINESS_CHECKS, readiness
from shared.web.startup import STARTUP_CHECK

Client = TestClient[Any, Any]

# What a child process keeps of the test runner's environment; the rest it is given.
KEPT_VARIABLES = frozenset({"PATH", "HOME", "LANG"})


async def opened(client: Client, timeout_s: float = 30.0) -> Client:
    """``client`` once its app's dependencies are open (see ``until_open``)."""
    await until_open(client.app, timeout_s)
    return client


async def until_open(app: web.Application, timeout_s: float = 30.0) -> None:
    """Wait until the dependencies ``app`` opens in the background are open: its
    ``startup`` readiness check is gone. Its other checks may still fail (a test of an
    unreachable Redis wants just that)."""
    checks = app[READINESS_CHECKS]
    try:
        await eventually(lambda: STARTUP_CHECK not in checks, timeout_s=timeout_s)
    except AssertionError:
        # The app's own words, e.g. "attempt 3 failed with ServerSelectionTimeoutError".
        said = await readiness(app)
        raise AssertionError(f"dependencies not open within {timeout_s}s: {said}") from None


def readiness_says(port: int | str, text: str) -> bool:
    """Whether a process's ``/readyz`` (503 or 200) mentions ``text``: a barrier such as
    "attempt 2 failed" (it kept trying, and still answers) instead of a sleep."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            body = response.read().decode()
    except urllib.error.HTTPError as error:
        body = error.read().decode()
    except OSError:
        return False
    return text in body


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(**variables: str) -> dict[str, str]:
    """A child's environment: ``variables`` and only the basics of ours."""
    return {**{k: v for k, v in os.environ.items() if k in KEPT_VARIABLES}, **variables}


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
