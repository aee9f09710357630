"""Which Stripe payments talks to, and that its secrets never reach the log."""

import pytest

from services.payments.config import (
    EMULATOR_API_BASE,
    EMULATOR_WEBHOOK_SECRET,
    Settings,
    StripeSettings,
)
from shared.config import ConfigError, Env, masked

BASE_ENV = {
    "MONGO_URL": "mongodb://127.0.0.1:27017/payments",
    "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
    "JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\\nx\\n-----END PUBLIC KEY-----",
}


EMULATOR = {"STRIPE_MODE": "emulator"}


def test_stripe_mode_emulator_uses_the_local_emulator() -> None:
    stripe = StripeSettings.from_env(Env(EMULATOR))

    assert stripe.api_base == EMULATOR_API_BASE
    assert stripe.webhook_secret == EMULATOR_WEBHOOK_SECRET
    assert stripe.secret_key.startswith("sk_test_")


def test_the_emulator_address_can_be_moved() -> None:
    env = {**EMULATOR, "STRIPE_API_BASE": "http://stripe-emulator:12111"}

    stripe = StripeSettings.from_env(Env(env))

    assert stripe.api_base == "http://stripe-emulator:12111"


@pytest.mark.parametrize("env", [{}, {"STRIPE_MODE": "stripe"}, {"STRIPE_SECRET_KEY": " "}])
def test_without_a_secret_key_and_no_emulator_mode_payments_refuses_to_start(
    env: dict[str, str],
) -> None:
    # The silent fallback to the emulator (whose webhook secret is public) is gone.
    with pytest.raises(ConfigError) as refused:
        StripeSettings.from_env(Env(env))

    assert str(refused.value) == (
        "STRIPE_SECRET_KEY is not set "
        "(or set STRIPE_MODE=emulator to use the offline Stripe emulator)"
    )


@pytest.mark.parametrize("key", ["sk_live_real", "sk_test_real"])
def test_a_secret_key_in_emulator_mode_stops_the_process(key: str) -> None:
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY is set but STRIPE_MODE=emulator"):
        StripeSettings.from_env(Env({**EMULATOR, "STRIPE_SECRET_KEY": key}))


@pytest.mark.parametrize("mode", ["offline", "Emulator", "test"])
def test_an_unknown_stripe_mode_stops_the_process(mode: str) -> None:
    env = {"STRIPE_MODE": mode, "STRIPE_SECRET_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "w"}

    with pytest.raises(ConfigError, match="STRIPE_MODE must be stripe or emulator"):
        StripeSettings.from_env(Env(env))


def test_with_a_secret_key_and_no_api_base_payments_uses_stripe_itself() -> None:
    env = {"STRIPE_SECRET_KEY": "sk_test_real", "STRIPE_WEBHOOK_SECRET": "whsec_real"}

    stripe = StripeSettings.from_env(Env(env))

    assert (stripe.secret_key, stripe.webhook_secret, stripe.api_base) == (
        "sk_test_real",
        "whsec_real",
        None,
    )


def test_a_real_key_without_a_webhook_secret_stops_the_process() -> None:
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        StripeSettings.from_env(Env({"STRIPE_SECRET_KEY": "sk_live_x"}))


def test_stripe_secrets_are_masked_in_the_startup_log() -> None:
    env = {**BASE_ENV, "STRIPE_SECRET_KEY": "sk_live_123", "STRIPE_WEBHOOK_SECRET": "whsec_9"}

    shown = masked(Settings.from_env(env))

    assert shown["stripe"]["secret_key"] == "***"
    assert shown["stripe"]["webhook_secret"] == "***"
    assert "sk_live_123" not in str(shown)
    assert "whsec_9" not in str(shown)


def test_stripe_calls_and_refund_retries_are_bounded_by_default_and_tunable() -> None:
    defaults = Settings.from_env({**BASE_ENV, **EMULATOR})
    tuned = Settings.from_env(
        {
            **BASE_ENV,
            **EMULATOR,
            "STRIPE_TIMEOUT_SECONDS": "3.5",
            "REFUND_RETRY_SWEEP_SECONDS": "0.5",
        }
    )

    assert (defaults.stripe.timeout_s, defaults.refunds.sweep_interval_s) == (20.0, 5.0)
    assert (tuned.stripe.timeout_s, tuned.refunds.sweep_interval_s) == (3.5, 0.5)


@pytest.mark.parametrize("name", ["STRIPE_TIMEOUT_SECONDS", "REFUND_RETRY_SWEEP_SECONDS"])
def test_a_zero_timeout_or_sweep_stops_the_process(name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({**BASE_ENV, **EMULATOR, name: "0"})
