"""Both expiration processes for real: ready, a clean SIGTERM exit, bad config refused,
and a start with the broker down."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import pytest

from shared.testing.poll import eventually
from shared.testing.relay import relay_to
from shared.testing.services import child_env, free_port, readiness_says, running, wait_for

MODULES = pytest.mark.parametrize("module", ["services.expiration", "services.expiration.worker"])


@pytest.fixture
def env(amqp_url: str, amqp_namespace: str, redis_url: str) -> dict[str, str]:
    return child_env(
        AMQP_URL=amqp_url,
        AMQP_NAMESPACE=amqp_namespace,
        AMQP_QUEUE_TYPE="classic",  # see AmqpSettings.queue_type
        REDIS_URL=redis_url,
        HOST="127.0.0.1",
        PORT=str(free_port()),
    )


@MODULES
def test_the_process_gets_ready_and_exits_zero_on_sigterm(module: str, env: dict[str, str]) -> None:
    with running(module, env) as process:
        wait_for(env["PORT"])

        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)

    assert process.returncode == 0, output


@MODULES
async def test_with_the_broker_down_it_stays_up_unready_and_gets_ready_when_it_is_back(
    module: str, env: dict[str, str]
) -> None:
    port = env["PORT"]
    async with relay_to(env["AMQP_URL"], 5672, up=False) as broker:
        env["AMQP_URL"] = broker.url(env["AMQP_URL"])
        with running(module, env) as process:
            await asyncio.to_thread(wait_for, port, "/healthz")
            await asyncio.to_thread(wait_for, port, "/readyz", 503)
            # Two failed attempts, and the same process still answers: no crash, no restart.
            await eventually(
                lambda: asyncio.to_thread(readiness_says, port, "attempt 2 failed"),
                timeout_s=20,
                what="a second failed attempt at opening the dependencies",
            )
            assert process.poll() is None

            await broker.restore()
            await asyncio.to_thread(wait_for, port, "/readyz", 200)
            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.to_thread(process.communicate, timeout=20)

    assert process.returncode == 0, output
    assert "opening dependencies failed (attempt 2): <AMQPConnectionError" in output


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
