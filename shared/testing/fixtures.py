"""pytest fixtures on real infrastructure: RabbitMQ, Redis, MongoDB (wire server or real).

Loaded by the repository's root ``conftest.py``. Isolation: one AMQP namespace (exchange
and queue prefix, deleted when the session ends) and one MongoDB database per test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from deploy.local.hosts import DEFAULT_AMQP_URL, DEFAULT_REDIS_URL
from deploy.local.keys import generate_keypair
from shared.messaging import AmqpSettings
from shared.mongo import Mongo, MongoSettings
from shared.testing.events import EventTap, tap_events
from shared.testing.identity import signin_cookie
from shared.testing.infra import fresh_database, mongo_server_url, purge_namespaces
from stripe_emulator.thread import emulator_in_thread


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    """``MONGO_URL`` when set (a real replica set wins), else a fresh mongoeco server."""
    with mongo_server_url() as url:
        yield url


@pytest.fixture
def mongo_settings(mongo_url: str) -> MongoSettings:
    return fresh_database(mongo_url, "t")


@pytest.fixture
async def mongo(mongo_settings: MongoSettings) -> AsyncIterator[Mongo]:
    """A client on a database of this test's own, dropped afterwards."""
    client = Mongo.connect(mongo_settings)
    try:
        yield client
    finally:
        await client.client.drop_database(mongo_settings.database)
        await client.close()


# Every AMQP namespace this session used, so the session can delete what they declared.
_NAMESPACES: set[str] = set()


def new_namespace(prefix: str = "t") -> str:
    """A fresh exchange-and-queue prefix, tidied away when the test session ends."""
    namespace = f"{prefix}{uuid.uuid4().hex[:10]}"
    _NAMESPACES.add(namespace)
    return namespace


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """The broker at ``AMQP_URL``; tests keep apart by namespace (``amqp_namespace``)."""
    url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    yield url
    purge_namespaces(url, _NAMESPACES)


@pytest.fixture
def amqp_namespace() -> str:
    """A prefix for this test's exchange and queues."""
    return new_namespace()


@pytest.fixture
def amqp(amqp_url: str, amqp_namespace: str) -> AmqpSettings:
    """A service's messaging settings for a test: its own namespace, quick retries."""
    return AmqpSettings(
        url=amqp_url,
        namespace=amqp_namespace,
        retry_delay_ms=100,
        max_retries=20,
        delivery_limit=5,
        sweep_interval_s=0.5,
        queue_type="classic",  # see AmqpSettings.queue_type
    )


@pytest.fixture
async def events(amqp: AmqpSettings) -> AsyncIterator[EventTap]:
    """Everything published on this test's exchange; ask for it before the app starts."""
    async with tap_events(amqp) as tap:
        yield tap


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)


@pytest.fixture(scope="session")
def jwt_keys() -> tuple[str, str]:
    """A fresh Ed25519 key pair as (private PEM, public PEM)."""
    return generate_keypair()


Signin = Callable[..., dict[str, str]]


@pytest.fixture
def signin(jwt_keys: tuple[str, str]) -> Signin:
    """``signin(user_id=None)``: a session cookie for that user (a new one when omitted)."""

    def make(user_id: str | None = None) -> dict[str, str]:
        return signin_cookie(jwt_keys[0], user_id)

    return make


@pytest.fixture(scope="session")
def stripe_api_base() -> Iterator[str]:
    """The Stripe emulator's base URL: one in-memory emulator per test session."""
    with emulator_in_thread() as url:
        yield url
