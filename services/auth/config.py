"""auth's settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from shared.auth import IdentitySettings
from shared.config import Env, secret
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import MongoSettings
from shared.web import HttpSettings

SERVICE = "auth"


@dataclass(frozen=True)
class Settings:
    http: HttpSettings
    log: LogSettings
    mongo: MongoSettings
    identity: IdentitySettings
    amqp: AmqpSettings  # for session.revoked, through auth's outbox
    jwt_private_key: str = secret()
    jwt_ttl_s: int = field(default=8 * 3600)

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
        )
