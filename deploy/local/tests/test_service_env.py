"""deploy.local.service_env: a tool acting as one service of a running `make up`."""

from __future__ import annotations

import json
from typing import Any

from deploy.local.service_env import command_env, stack_env
from deploy.local.stack import state_path

STATE: dict[str, Any] = {
    "url": "http://127.0.0.1:8080",
    "env": {
        "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
        "AMQP_NAMESPACE": "g1234",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "EXPIRATION_QUEUE": "arq:g1234.expiration",
    },
    "processes": {
        "orders": {"module": "services.orders", "mongo_url": "mongodb://127.0.0.1:41001/"},
        "expiration": {"module": "services.expiration", "mongo_url": None},
        "payments": {"module": "services.payments", "mongo_url": "mongodb://127.0.0.1:41002/"},
        "stripe_emulator": {"module": "stripe_emulator", "port": 12111, "mongo_url": None},
    },
}


def test_a_service_gets_the_stacks_broker_namespace_and_its_own_mongodb() -> None:
    env = stack_env(STATE, "orders")

    assert env == {
        **STATE["env"],
        "MONGO_URL": "mongodb://127.0.0.1:41001/",
        "MONGO_SERIALIZE_WRITES": "true",
    }


def test_a_service_without_a_database_gets_the_broker_only() -> None:
    assert "MONGO_URL" not in stack_env(STATE, "expiration")
    assert stack_env(STATE, "expiration")["AMQP_NAMESPACE"] == "g1234"


def test_payments_gets_the_stacks_stripe_emulator() -> None:
    env = stack_env(STATE, "payments")

    assert (env["STRIPE_MODE"], env["STRIPE_API_BASE"]) == ("emulator", "http://127.0.0.1:12111")
    assert "STRIPE_MODE" not in stack_env(STATE, "orders")


def test_with_no_stack_running_the_environment_is_left_as_it_is() -> None:
    environ = {"GATEWAY_PORT": "1", "MONGO_URL": "mongodb://elsewhere/orders"}

    assert command_env(environ, "orders") == environ


def test_with_a_stack_running_its_variables_win() -> None:
    # A state file where deploy.local.stack writes one, for a port no stack uses.
    path = state_path(18999)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(STATE))
    try:
        env = command_env(
            {"GATEWAY_PORT": "18999", "AMQP_NAMESPACE": "mine", "KEPT": "1"}, "orders"
        )
    finally:
        path.unlink()

    assert (env["AMQP_NAMESPACE"], env["MONGO_URL"], env["KEPT"]) == (
        "g1234",
        "mongodb://127.0.0.1:41001/",
        "1",
    )
