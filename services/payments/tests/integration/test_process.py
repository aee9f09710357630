"""payments as a real process: it refuses to start without a Stripe key unless the
emulator is chosen explicitly (``STRIPE_MODE=emulator``)."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from shared.testing.services import child_env, free_port, running, wait_for


@pytest.fixture
def base_env(
    mongo_url: str, amqp_url: str, amqp_namespace: str, jwt_keys: tuple[str, str]
) -> dict[str, str]:
    return child_env(
        MONGO_URL=mongo_url,
        AMQP_URL=amqp_url,
        AMQP_NAMESPACE=amqp_namespace,
        AMQP_QUEUE_TYPE="classic",  # see AmqpSettings.queue_type
        JWT_PUBLIC_KEY=jwt_keys[1],
        HOST="127.0.0.1",
        PORT=str(free_port()),
        COOKIE_SECURE="false",
    )


def payments_run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """payments run to its end (a configuration error ends it at once)."""
    return subprocess.run(
        [sys.executable, "-m", "services.payments"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_without_a_stripe_key_or_emulator_mode_payments_exits_2_naming_the_setting(
    base_env: dict[str, str],
) -> None:
    result = payments_run(base_env)

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "payments: configuration error: STRIPE_SECRET_KEY is not set "
        "(or set STRIPE_MODE=emulator to use the offline Stripe emulator)"
    ]


def test_a_live_key_in_emulator_mode_is_refused_too(base_env: dict[str, str]) -> None:
    env = {**base_env, "STRIPE_MODE": "emulator", "STRIPE_SECRET_KEY": "sk_live_x"}

    result = payments_run(env)

    assert result.returncode == 2
    assert "STRIPE_SECRET_KEY is set but STRIPE_MODE=emulator" in result.stderr


def test_with_stripe_mode_emulator_payments_starts_and_gets_ready(
    base_env: dict[str, str], stripe_api_base: str
) -> None:
    env = {**base_env, "STRIPE_MODE": "emulator", "STRIPE_API_BASE": stripe_api_base}

    with running("services.payments", env) as process:
        wait_for(env["PORT"], "/readyz", timeout_s=60)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)

    assert process.returncode == 0
