"""auth as a real process: configuration errors, masked settings, JSON logs, clean exit,
and a start with MongoDB down."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest

from shared.testing.poll import eventually
from shared.testing.relay import relay_to
from shared.testing.services import child_env, free_port, readiness_says, running, wait_for


@pytest.fixture
def base_env(
    mongo_url: str, amqp_url: str, amqp_namespace: str, jwt_keys: tuple[str, str]
) -> dict[str, str]:
    private, public = jwt_keys
    return child_env(
        MONGO_URL=mongo_url,
        AMQP_URL=amqp_url,  # sign-outs go out through the outbox
        AMQP_NAMESPACE=amqp_namespace,
        JWT_PRIVATE_KEY=private,
        JWT_PUBLIC_KEY=public,
        HOST="127.0.0.1",
        PORT=str(free_port()),
        COOKIE_SECURE="false",
    )


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
    base_env: dict[str, str],
) -> None:
    base_env["LOG_FORMAT"] = "json"
    with running("services.auth", base_env) as process:
        wait_for(base_env["PORT"])
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


async def test_with_mongodb_down_it_stays_up_unready_and_serves_once_mongodb_is_back(
    base_env: dict[str, str],
) -> None:
    port = base_env["PORT"]
    async with relay_to(base_env["MONGO_URL"], 27017, up=False) as mongo:
        base_env["MONGO_URL"] = mongo.url(base_env["MONGO_URL"], directConnection="true")
        base_env["MONGO_TIMEOUT_MS"] = "300"
        with running("services.auth", base_env) as process:
            await asyncio.to_thread(wait_for, port, "/healthz")
            await asyncio.to_thread(wait_for, port, "/readyz", 503)
            refused = await asyncio.to_thread(sign_up, port)
            # Two failed attempts, and the same process still answers: no crash, no restart.
            await eventually(
                lambda: asyncio.to_thread(readiness_says, port, "attempt 2 failed"),
                timeout_s=20,
                what="a second failed attempt at opening the dependencies",
            )
            assert process.poll() is None

            await mongo.restore()
            await asyncio.to_thread(wait_for, port, "/readyz", 200)
            created = await asyncio.to_thread(sign_up, port)

            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.to_thread(process.communicate, timeout=20)

    assert refused == 503
    assert created == 201
    assert process.returncode == 0, output
    assert "opening dependencies failed (attempt 2)" in output


def sign_up(port: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/users/signup",
        data=json.dumps({"email": f"{uuid.uuid4().hex}@test.com", "password": "password"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
