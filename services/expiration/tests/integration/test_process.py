"""Both expiration processes for real: ready, a clean SIGTERM exit, bad config refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

MODULES = pytest.mark.parametrize("module", ["services.expiration", "services.expiration.worker"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(amqp_url: str, amqp_namespace: str, redis_url: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return {
        **keep,
        "AMQP_URL": amqp_url,
        "AMQP_NAMESPACE": amqp_namespace,
        "AMQP_QUEUE_TYPE": "classic",  # see AmqpSettings.queue_type
        "REDIS_URL": redis_url,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
    }


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def wait_until_ready(port: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"no 200 from /readyz on :{port} within {timeout_s}s")


@MODULES
def test_the_process_gets_ready_and_exits_zero_on_sigterm(
    module: str, env: dict[str, str], started: list[subprocess.Popen[str]]
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", module],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started.append(process)
    wait_until_ready(env["PORT"])

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)

    assert process.returncode == 0, output


@MODULES
def test_a_bad_redis_url_stops_the_process_with_one_line_naming_it(
    module: str, env: dict[str, str]
) -> None:
    env["REDIS_URL"] = "http://127.0.0.1:6379"

    result = subprocess.run(
        [sys.executable, "-m", module], env=env, capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "configuration error: REDIS_URL must be a redis://" in result.stderr
