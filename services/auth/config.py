"""auth's settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from services.auth.domain import DEFAULT_COST, MAX_LOG2_N, MIN_LOG2_N, ScryptCost
from shared.auth import IdentitySettings
from shared.config import ConfigError, Env, secret
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import MongoSettings
from shared.web import HttpSettings

SERVICE = "auth"

# What the hashes running at once in one auth process may take: two at the default cost
# (256 MiB). The chart's memory limit for auth is this plus the process's own ~65 MiB.
HASH_MEMORY_BUDGET_BYTES = 2 * DEFAULT_COST.memory_bytes


def default_hash_concurrency(scrypt_log2_n: int) -> int:
    """As many hashes at once as fit the budget: 2 at 2**17, 15 at 2**14, never 0."""
    return max(1, HASH_MEMORY_BUDGET_BYTES // ScryptCost(log2_n=scrypt_log2_n).memory_bytes)


@dataclass(frozen=True)
class HashingSettings:
    scrypt_log2_n: int = DEFAULT_COST.log2_n
    concurrency: int = default_hash_concurrency(DEFAULT_COST.log2_n)
    wait_s: float = 5.0

    @classmethod
    def from_env(cls, env: Env) -> HashingSettings:
        # Below the default only for test stacks, which sign up hundreds of users.
        log2_n = env.int("AUTH_SCRYPT_LOG2_N", DEFAULT_COST.log2_n, minimum=MIN_LOG2_N)
        if log2_n > MAX_LOG2_N:
            raise ConfigError(f"AUTH_SCRYPT_LOG2_N must be at most {MAX_LOG2_N}, got {log2_n}")
        return cls(
            scrypt_log2_n=log2_n,
            concurrency=env.int(
                "AUTH_HASH_CONCURRENCY", default_hash_concurrency(log2_n), minimum=1
            ),
            wait_s=env.float("AUTH_HASH_WAIT_SECONDS", cls.wait_s, minimum=0.0),
        )


@dataclass(frozen=True)
class Settings:
    http: HttpSettings
    log: LogSettings
    mongo: MongoSettings
    identity: IdentitySettings
    amqp: AmqpSettings  # for session.revoked, through auth's outbox
    jwt_private_key: str = secret()
    jwt_ttl_s: int = field(default=8 * 3600)
    hashing: HashingSettings = field(default_factory=HashingSettings)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = Env(os.environ if environ is None else environ)
        return cls(
            http=HttpSettings.from_env(env),
            log=LogSettings.from_env(env),
            mongo=MongoSettings.from_env(env, default_database=SERVICE),
            identity=IdentitySettings.from_env(env),
            amqp=AmqpSettings.from_env(env),
            jwt_private_key=env.pem("JWT_PRIVATE_KEY"),
            jwt_ttl_s=env.int("JWT_TTL_SECONDS", 8 * 3600, minimum=60),
            hashing=HashingSettings.from_env(env),
        )
