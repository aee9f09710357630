"""payments' settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.auth import IdentitySettings
from shared.config import ConfigError, Env, secret
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import MongoSettings
from shared.web import HttpSettings

SERVICE = "payments"

# STRIPE_MODE: "stripe" (the default) needs STRIPE_SECRET_KEY; "emulator" is the explicit
# opt-in to the offline Stripe emulator (the stripe_emulator package) that `make up`,
# the test stacks and compose's .env.example choose. Never silently: the emulator's webhook
# secret is public, so a payments that fell back to it would take anyone's forged events.
STRIPE_MODES = ("stripe", "emulator")
EMULATOR_API_BASE = "http://127.0.0.1:12111"
EMULATOR_SECRET_KEY = "sk_test_local_emulator"
EMULATOR_WEBHOOK_SECRET = "whsec_local_emulator"


@dataclass(frozen=True)
class StripeSettings:
    """Which Stripe to talk to, and the secrets for it.

    ``STRIPE_MODE=stripe`` (default): ``STRIPE_SECRET_KEY`` and ``STRIPE_WEBHOOK_SECRET``
    are required; ``STRIPE_API_BASE`` is empty for Stripe itself. ``STRIPE_MODE=emulator``:
    the emulator at ``STRIPE_API_BASE`` (default http://127.0.0.1:12111) with a placeholder
    key, and ``STRIPE_SECRET_KEY`` must be empty. Same SDK code path either way.
    """

    secret_key: str = secret()
    webhook_secret: str = secret()
    api_base: str | None = None  # None: Stripe's own address
    max_network_retries: int = 2
    # The SDK waits 80 s by default; a buyer's request (and a refund retry) should not.
    timeout_s: float = 20.0

    @classmethod
    def from_env(cls, env: Env) -> StripeSettings:
        retries = env.int("STRIPE_MAX_NETWORK_RETRIES", cls.max_network_retries, minimum=0)
        timeout_s = env.float("STRIPE_TIMEOUT_SECONDS", cls.timeout_s, minimum=0.1)
        mode = env.str("STRIPE_MODE", "stripe")
        if mode not in STRIPE_MODES:
            raise ConfigError(f"STRIPE_MODE must be stripe or emulator, got {mode!r}")
        key = env.optional("STRIPE_SECRET_KEY")
        if mode == "emulator":
            if key is not None:
                # A key here is a mistake either way: a live key must never meet the
                # emulator, and a test key would be silently ignored.
                raise ConfigError(
                    "STRIPE_SECRET_KEY is set but STRIPE_MODE=emulator does not use it "
                    "(empty it, or set STRIPE_MODE=stripe to use that key)"
                )
            return cls(
                secret_key=EMULATOR_SECRET_KEY,
                webhook_secret=env.str("STRIPE_WEBHOOK_SECRET", EMULATOR_WEBHOOK_SECRET),
                api_base=env.str("STRIPE_API_BASE", EMULATOR_API_BASE),
                max_network_retries=retries,
                timeout_s=timeout_s,
            )
        if key is None:
            raise ConfigError(
                "STRIPE_SECRET_KEY is not set "
                "(or set STRIPE_MODE=emulator to use the offline Stripe emulator)"
            )
        return cls(
            secret_key=key,
            # Against real Stripe an unverifiable webhook endpoint is a hole: required.
            webhook_secret=env.str("STRIPE_WEBHOOK_SECRET"),
            api_base=env.optional("STRIPE_API_BASE"),
            max_network_retries=retries,
            timeout_s=timeout_s,
        )


@dataclass(frozen=True)
class RefundSettings:
    # How often payments looks for refunds that are due again (Stripe was down, or the
    # process died between deciding a refund and making it).
    sweep_interval_s: float = 5.0

    @classmethod
    def from_env(cls, env: Env) -> RefundSettings:
        return cls(
            sweep_interval_s=env.float(
                "REFUND_RETRY_SWEEP_SECONDS", cls.sweep_interval_s, minimum=0.1
            )
        )


@dataclass(frozen=True)
class Settings:
    http: HttpSettings
    log: LogSettings
    mongo: MongoSettings
    amqp: AmqpSettings
    identity: IdentitySettings
    stripe: StripeSettings
    refunds: RefundSettings = RefundSettings()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = Env(os.environ if environ is None else environ)
        return cls(
            http=HttpSettings.from_env(env),
            log=LogSettings.from_env(env),
            mongo=MongoSettings.from_env(env, default_database=SERVICE),
            amqp=AmqpSettings.from_env(env),
            identity=IdentitySettings.from_env(env),
            stripe=StripeSettings.from_env(env),
            refunds=RefundSettings.from_env(env),
        )
