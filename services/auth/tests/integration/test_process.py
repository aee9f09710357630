"""auth as a real process: configuration errors, masked settings, JSON logs, clean exit."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def base_env(mongo_url: str, jwt_keys: tuple[str, str]) -> dict[str, str]:
    private, public = jwt_keys
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    return {
        **keep,
        "MONGO_URL": mongo_url,
        "JWT_PRIVATE_KEY": private,
        "JWT_PUBLIC_KEY": public,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "COOKIE_SECURE": "false",
    }


@pytest.fixture
def start_auth() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def launch(env: dict[str, str], started: list[subprocess.Popen[str]]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "services.auth"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started.append(process)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/readyz", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    raise AssertionError("auth did not become ready")


def test_a_missing_required_variable_stops_the_process_with_one_line_naming_it(
    base_env: dict[str, str],
) -> None:
    del base_env["JWT_PRIVATE_KEY"]

    result = subprocess.run(
        [sys.executable, "-m", "services.auth"],
        env=base_env,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "auth: configuration error: JWT_PRIVATE_KEY must be defined"
    ]


def test_a_malformed_variable_is_named_too(base_env: dict[str, str]) -> None:
    base_env["COOKIE_SECURE"] = "maybe"

    result = subprocess.run(
        [sys.executable, "-m", "services.auth"], env=base_env, capture_output=True, text=True
    )

    assert result.returncode == 2
    assert "COOKIE_SECURE must be true or false" in result.stderr


def test_json_logs_mask_secrets_log_each_request_and_sigterm_exits_zero(
    base_env: dict[str, str], start_auth: list[subprocess.Popen[str]]
) -> None:
    base_env["LOG_FORMAT"] = "json"
    process = launch(base_env, start_auth)
    urllib.request.urlopen(
        urllib.request.Request(
            f"http://127.0.0.1:{base_env['PORT']}/healthz", headers={"X-Request-Id": "req-42"}
        ),
        timeout=5,
    ).read()

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=20)

    assert process.returncode == 0
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    startup = next(line for line in lines if line["message"].startswith("starting auth"))
    assert "PRIVATE KEY" not in startup["message"]
    assert '"jwt_private_key": "***"' in startup["message"]
    access = [line for line in lines if line["logger"] == "aiohttp.access"]
    healthz = next(line for line in access if line.get("path") == "/healthz")
    assert healthz["status"] == 200
    assert healthz["method"] == "GET"
    assert healthz["request_id"] == "req-42"
