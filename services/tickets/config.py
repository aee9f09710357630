"""tickets' settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.auth import IdentitySettings
from shared.config import Env
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import MongoSettings
from shared.web import HttpSettings

SERVICE = "tickets"


@dataclass(frozen=True)
class Settings:
    http: HttpSettings
    log: LogSettings
    mongo: MongoSettings
    amqp: AmqpSettings
    identity: IdentitySettings

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = Env(os.environ if environ is None else environ)
        return cls(
            http=HttpSettings.from_env(env),
            log=LogSettings.from_env(env),
            mongo=MongoSettings.from_env(env, default_database=SERVICE),
            amqp=AmqpSettings.from_env(env),
            identity=IdentitySettings.from_env(env),
        )
