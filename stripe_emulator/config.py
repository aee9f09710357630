"""The emulator's settings, read once from the environment with the services' ``Env``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import Env, secret
from stripe_emulator.webhooks import DEFAULT_WEBHOOK_RETRY_S, DEFAULT_WEBHOOK_SECRET

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 12111


@dataclass(frozen=True)
class EmulatorSettings:
    """``HOST``/``PORT``, ``STRIPE_WEBHOOK_URL`` (unset: no webhooks),
    ``STRIPE_WEBHOOK_SECRET`` and ``STRIPE_WEBHOOK_RETRY_SECONDS``;
    ``STRIPE_EMULATOR_PUBLIC_URL`` (where browsers reach it, for 3-D Secure challenge
    pages; unset: the address each API call used); ``LOG_LEVEL``."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_url: str | None = None
    webhook_url: str | None = None
    webhook_secret: str = secret(DEFAULT_WEBHOOK_SECRET)
    webhook_retry_s: float = DEFAULT_WEBHOOK_RETRY_S
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmulatorSettings:
        """The settings; ``ConfigError`` names a variable that is malformed."""
        env = Env(environ)
        return cls(
            host=env.str("HOST", DEFAULT_HOST),
            port=env.int("PORT", DEFAULT_PORT, minimum=0),
            public_url=(env.optional("STRIPE_EMULATOR_PUBLIC_URL") or "").rstrip("/") or None,
            webhook_url=env.optional("STRIPE_WEBHOOK_URL"),
            webhook_secret=env.str("STRIPE_WEBHOOK_SECRET", DEFAULT_WEBHOOK_SECRET),
            # 0 is allowed: one attempt, no retries.
            webhook_retry_s=env.float(
                "STRIPE_WEBHOOK_RETRY_SECONDS", DEFAULT_WEBHOOK_RETRY_S, minimum=0
            ),
            log_level=env.str("LOG_LEVEL", "INFO").upper(),
        )
