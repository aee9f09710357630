"""/healthz and /readyz of both processes, with Redis up and with Redis unreachable."""

from __future__ import annotations

import dataclasses

from services.expiration.config import RedisSettings, Settings
from services.expiration.tests.conftest import APP_FACTORIES, AppFactory, StartApp
from shared.testing.services import free_port


def closed_port_url() -> str:
    """A Redis URL on a loopback port nothing listens on."""
    return f"redis://127.0.0.1:{free_port()}/0"  # nobody listens once it is found


def without_redis(settings: Settings) -> Settings:
    return dataclasses.replace(settings, redis=RedisSettings(url=closed_port_url()))


@APP_FACTORIES
async def test_readyz_is_200_when_redis_and_the_broker_answer(
    start_app: StartApp, create_app: AppFactory, settings: Settings
) -> None:
    client = await start_app(create_app, settings)

    response = await client.get("/readyz")

    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ready"
    assert {"redis", "rabbitmq"} <= set(body["checks"])
    assert set(body["checks"].values()) == {"ok"}


@APP_FACTORIES
async def test_readyz_is_503_naming_redis_when_redis_is_unreachable(
    start_app: StartApp, create_app: AppFactory, settings: Settings
) -> None:
    client = await start_app(create_app, without_redis(settings))

    response = await client.get("/readyz")

    assert response.status == 503
    body = await response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["redis"].startswith("down")
    assert body["checks"]["rabbitmq"] == "ok"


@APP_FACTORIES
async def test_healthz_answers_while_redis_is_unreachable(
    start_app: StartApp, create_app: AppFactory, settings: Settings
) -> None:
    client = await start_app(create_app, without_redis(settings))

    response = await client.get("/healthz")

    assert response.status == 200
