"""payments' settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.auth import IdentitySettings
from shared.config import Env, secret
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import MongoSettings
from shared.web import HttpSettings

SERVICE = "payments"

# The offline defaults: the Stripe emulator `make up` and compose run
# (shared/testing/stripe_emulator.py), and a key it accepts.
EMULATOR_API_BASE = "http://127.0.0.1:12111"
EMULATOR_SECRET_KEY = "sk_test_local_emulator"
EMULATOR_WEBHOOK_SECRET = "whsec_local_emulator"


@dataclass(frozen=True)
class StripeSettings:
    """Which Stripe to talk to, and the secrets for it.

    Without ``STRIPE_SECRET_KEY`` the service uses the emulator at ``STRIPE_API_BASE``
    (default http://127.0.0.1:12111) with a placeholder key, so the whole flow runs
    offline; with a key and no ``STRIPE_API_BASE``, Stripe itself. Same SDK code path.
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
        key = env.optional("STRIPE_SECRET_KEY")
        if key is None:
            return cls(
                secret_key=EMULATOR_SECRET_KEY,
                webhook_secret=env.str("STRIPE_WEBHOOK_SECRET", EMULATOR_WEBHOOK_SECRET),
                api_base=env.str("STRIPE_API_BASE", EMULATOR_API_BASE),
                max_network_retries=retries,
                timeout_s=timeout_s,
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
