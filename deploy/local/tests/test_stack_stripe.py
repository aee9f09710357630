"""The local stack (``make up``, the e2e, client and chaos stacks) opts in to the Stripe
emulator explicitly, and runs without it when told to use Stripe."""

from __future__ import annotations

import pytest

from deploy.local.stack import Stack

# Given so that environment() does not generate dev keys into .run/.
KEYS = {"JWT_PRIVATE_KEY": "private", "JWT_PUBLIC_KEY": "public"}


@pytest.fixture(autouse=True)
def no_stripe_settings_of_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STRIPE_MODE", "STRIPE_SECRET_KEY", "STRIPE_API_BASE"):
        monkeypatch.delenv(name, raising=False)


def planned(env: dict[str, str]) -> Stack:
    """A stack with its environment and process list worked out, nothing started."""
    stack = Stack(gateway_port=19999, env={**KEYS, **env}, port_offset=7)
    stack.child_env = stack.environment()
    stack.running = stack.processes()
    return stack


def test_the_stack_sets_stripe_mode_emulator_and_runs_the_emulator_for_payments() -> None:
    stack = planned({})

    assert stack.child_env["STRIPE_MODE"] == "emulator"
    assert stack.child_env["STRIPE_API_BASE"] == f"http://127.0.0.1:{stack.stripe_emulator.port}"
    assert stack.running[0] == stack.stripe_emulator
    payments = next(p for p in stack.running if p.name == "payments")
    assert stack.extra_env(stack.stripe_emulator) == {
        "STRIPE_WEBHOOK_URL": f"http://127.0.0.1:{payments.port}/api/payments/webhook"
    }


def test_with_stripe_mode_stripe_the_stack_runs_no_emulator() -> None:
    stack = planned({"STRIPE_MODE": "stripe", "STRIPE_SECRET_KEY": "sk_test_x"})

    assert stack.stripe_emulator not in stack.running
    assert "STRIPE_API_BASE" not in stack.child_env


def test_a_key_alone_does_not_switch_the_emulator_off() -> None:
    # No more guessing from the key: payments then refuses the key in emulator mode and
    # says to set STRIPE_MODE=stripe.
    stack = planned({"STRIPE_SECRET_KEY": "sk_test_x"})

    assert stack.child_env["STRIPE_MODE"] == "emulator"
    assert stack.stripe_emulator in stack.running
