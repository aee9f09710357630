"""orders' settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from shared.auth import IdentitySettings
from shared.config import Env
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import MongoSettings
from shared.web import HttpSettings

SERVICE = "orders"


@dataclass(frozen=True)
class OrderSettings:
    # How long an order holds its ticket (spec: 15 minutes).
    expiration_s: int = 15 * 60
    # The safety net: how often to look for `created` orders past their expiry, and how
    # late they must be before we cancel them ourselves (the expiration service should
    # have done it by then; the grace keeps us from racing it on every order).
    sweep_interval_s: float = 30.0
    sweep_grace_s: float = 60.0
    # Orders one buyer may hold unpaid at once: one account cannot take every ticket off
    # sale by ordering each one (and re-ordering before the holds run out).
    max_open_per_user: int = 5

    @classmethod
    def from_env(cls, env: Env) -> OrderSettings:
        return cls(
            expiration_s=env.int("ORDER_EXPIRATION_SECONDS", cls.expiration_s, minimum=1),
            sweep_interval_s=env.float("ORDER_SWEEP_SECONDS", cls.sweep_interval_s, minimum=0.1),
            sweep_grace_s=env.float("ORDER_SWEEP_GRACE_SECONDS", cls.sweep_grace_s, minimum=0),
            max_open_per_user=env.int("ORDERS_MAX_OPEN_PER_USER", cls.max_open_per_user, minimum=1),
        )


@dataclass(frozen=True)
class Settings:
    http: HttpSettings
    log: LogSettings
    mongo: MongoSettings
    amqp: AmqpSettings
    identity: IdentitySettings
    orders: OrderSettings

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = Env(os.environ if environ is None else environ)
        return cls(
            http=HttpSettings.from_env(env),
            log=LogSettings.from_env(env),
            mongo=MongoSettings.from_env(env, default_database=SERVICE),
            amqp=AmqpSettings.from_env(env),
            identity=IdentitySettings.from_env(env),
            orders=OrderSettings.from_env(env),
        )
