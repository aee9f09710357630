from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.auth.bootstrap import create_service
from services.auth.config import HashingSettings, Settings
from shared.auth import IdentitySettings
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import Mongo, MongoSettings
from shared.testing.services import opened
from shared.web import HttpSettings

Client = TestClient[Any, Any]


@pytest.fixture
def settings(
    mongo_settings: MongoSettings, amqp: AmqpSettings, jwt_keys: tuple[str, str]
) -> Settings:
    private, public = jwt_keys
    return Settings(
        http=HttpSettings(max_body_bytes=4096),
        log=LogSettings(),
        mongo=mongo_settings,
        identity=IdentitySettings(jwt_public_key=public, cookie_secure=False),
        amqp=amqp,
        jwt_private_key=private,
        jwt_ttl_s=3600,
        # The cheapest cost allowed: these tests sign up many users (2**17 is tested apart).
        hashing=HashingSettings(scrypt_log2_n=14),
    )


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, mongo: Mongo
) -> Client:
    """The auth app on its own database (the ``mongo`` fixture drops it afterwards)."""
    return await opened(await aiohttp_client(create_service(settings)))


async def signup(client: Client, email: str = "test@test.com", password: str = "password") -> Any:
    response = await client.post("/api/users/signup", json={"email": email, "password": password})
    assert response.status == 201, await response.text()
    return response
