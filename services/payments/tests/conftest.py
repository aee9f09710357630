from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
import stripe
from aiohttp.test_utils import TestClient
from bson import ObjectId
from prometheus_client import REGISTRY

from services.payments.api.keys import DEPS
from services.payments.bootstrap import create_service
from services.payments.config import Settings, StripeSettings
from services.payments.domain import Intent, Order, StripeEvent
from services.payments.ports import PaymentGateway
from services.payments.service import Deps
from shared.auth import IdentitySettings
from shared.events import (
    Event,
    OrderCancelled,
    OrderCreated,
    OrderStatus,
    PaymentCreated,
    TicketId,
    TicketRef,
)
from shared.logging import LogSettings
from shared.messaging import AmqpSettings, Publisher
from shared.mongo import Mongo, MongoSettings
from shared.testing.events import EventTap, event_publisher
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually
from shared.testing.services import opened
from shared.web import HttpSettings

Client = TestClient[Any, Any]
WEBHOOK_SECRET = "whsec_payments_tests"


@pytest.fixture
def settings(
    mongo_settings: MongoSettings,
    amqp: AmqpSettings,
    jwt_keys: tuple[str, str],
    stripe_api_base: str,
) -> Settings:
    return Settings(
        http=HttpSettings(),
        log=LogSettings(),
        mongo=mongo_settings,
        amqp=amqp,
        identity=IdentitySettings(jwt_public_key=jwt_keys[1], cookie_secure=False),
        stripe=StripeSettings(
            secret_key="sk_test_payments",
            webhook_secret=WEBHOOK_SECRET,
            api_base=stripe_api_base,
            max_network_retries=0,
        ),
    )


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    mongo: Mongo,
    events: EventTap,
) -> Client:
    return await opened(await aiohttp_client(create_service(settings)))


@pytest.fixture
def deps(client: Client) -> Deps:
    assert client.app is not None
    deps: Deps = client.app[DEPS].get()
    return deps


@pytest.fixture
async def publisher(amqp: AmqpSettings) -> AsyncIterator[Publisher]:
    """Plays the orders service: publishes its events on this test's exchange."""
    async with event_publisher(amqp) as publisher:
        yield publisher


@pytest.fixture
async def stripe_client(stripe_api_base: str) -> AsyncIterator[stripe.StripeClient]:
    """The test's own SDK client on the emulator, to see what payments did there."""
    async with aiohttp.ClientSession() as session:
        yield stripe.StripeClient(
            "sk_test_observer",
            base_addresses={"api": stripe_api_base},
            http_client=stripe.AIOHTTPClient(session=session),
            max_network_retries=0,
        )


def order_created(user_id: str | None = None, price_cents: int = 2000) -> OrderCreated:
    return OrderCreated(
        id=str(ObjectId()),
        version=0,
        status=OrderStatus.CREATED,
        user_id=user_id or str(ObjectId()),
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        ticket=TicketRef(id=str(ObjectId()), price_cents=price_cents),
    )


def order_cancelled(created: OrderCreated, version: int = 1) -> OrderCancelled:
    return OrderCancelled(id=created.id, version=version, ticket=TicketId(id=created.ticket.id))


async def publish(publisher: Publisher, *events: Event) -> None:
    for event in events:
        await publisher.publish_event(event)


async def replica(deps: Deps, order_id: str, **expected: Any) -> Order:
    """The order's replica once it exists and has the ``expected`` attribute values."""

    async def matches() -> Order | None:
        order = await deps.orders.get(order_id)
        if order is None or any(getattr(order, k) != v for k, v in expected.items()):
            return None
        return order

    found: Order = await eventually(matches, what=f"order {order_id} with {expected}")
    return found


async def open_order(
    deps: Deps, publisher: Publisher, user_id: str | None = None, price_cents: int = 2000
) -> OrderCreated:
    """An order the replica knows, as orders announced it."""
    event = order_created(user_id, price_cents)
    await publish(publisher, event)
    await replica(deps, event.id)
    return event


async def cancelled_order(
    deps: Deps, publisher: Publisher, user_id: str | None = None
) -> OrderCreated:
    """An order the replica knows as cancelled."""
    event = await open_order(deps, publisher, user_id)
    await publish(publisher, order_cancelled(event))
    await replica(deps, event.id, status="cancelled")
    return event


async def pay(
    client: Client,
    cookies: dict[str, str],
    order_id: str,
    token: str = "pm_card_visa",
    *,
    json_extra: dict[str, Any] | None = None,
    **kw: Any,
) -> aiohttp.ClientResponse:
    body = {"orderId": order_id, "token": token, **(json_extra or {})}
    return await client.post("/api/payments", json=body, cookies=cookies, **kw)


@dataclass
class ForwardingGateway:
    """The real gateway, for tests that change one call of it (subclass and override)."""

    gateway: PaymentGateway

    async def charge(
        self,
        order_id: str,
        amount_cents: int,
        token: str,
        *,
        return_url: str | None = None,
        attempt: str | None = None,
    ) -> Intent:
        return await self.gateway.charge(
            order_id, amount_cents, token, return_url=return_url, attempt=attempt
        )

    async def intent_of_order(self, order_id: str, amount_cents: int) -> Intent:
        return await self.gateway.intent_of_order(order_id, amount_cents)

    async def refund(self, intent_id: str) -> str:
        return await self.gateway.refund(intent_id)

    def parse_webhook(self, payload: bytes, signature: str | None) -> StripeEvent:
        return self.gateway.parse_webhook(payload, signature)


@dataclass(frozen=True)
class Buyer:
    """A signed-in user: opens orders of their own as orders would, and pays over the API."""

    id: str
    cookies: dict[str, str]
    client: Client
    deps: Deps
    publisher: Publisher

    async def open_order(self, price_cents: int = 2000) -> OrderCreated:
        return await open_order(self.deps, self.publisher, self.id, price_cents)

    async def cancelled_order(self) -> OrderCreated:
        return await cancelled_order(self.deps, self.publisher, self.id)

    async def pay(
        self, order_id: str, token: str = "pm_card_visa", **kw: Any
    ) -> aiohttp.ClientResponse:
        return await pay(self.client, self.cookies, order_id, token, **kw)


@pytest.fixture
def buyer(client: Client, deps: Deps, publisher: Publisher, signin: Signin) -> Buyer:
    user_id = str(ObjectId())
    return Buyer(user_id, signin(user_id), client, deps, publisher)


async def payment_docs(mongo: Mongo, order_id: str) -> list[dict[str, Any]]:
    """Every payment record of the order, as stored."""
    return [doc async for doc in mongo.db.payments.find({"order_id": order_id})]


async def intents_of(client: stripe.StripeClient, order_id: str) -> list[stripe.PaymentIntent]:
    """The PaymentIntents the emulator holds for the order."""
    found = await client.v1.payment_intents.search_async(
        params={"query": f"metadata['order_id']:'{order_id}'"}
    )
    return list(found.data)


async def refunds_of(client: stripe.StripeClient, intent_id: str) -> list[stripe.Refund]:
    """The refunds the emulator holds for the PaymentIntent."""
    found = await client.v1.refunds.list_async(params={"payment_intent": intent_id})
    return list(found.data)


# The stripe_id of the marker payments_announced sends after the events it waits for.
MARKER = "pi_marker"


async def payments_announced(deps: Deps, events: EventTap, order_id: str) -> list[PaymentCreated]:
    """Every ``payment.created`` payments committed for the order so far, as published.

    The barrier is a marker about the same order through payments' own outbox: the relay
    publishes one order's events in the order they were written, so once the marker has
    arrived, so has every event committed before it (a stray one included).
    """
    async with deps.uow() as tx:
        await tx.emit(PaymentCreated(id=str(ObjectId()), order_id=order_id, stripe_id=MARKER))
    await events.wait_for(PaymentCreated, lambda e: (e.order_id, e.stripe_id) == (order_id, MARKER))
    return [
        e for e in events.of(PaymentCreated) if e.order_id == order_id and e.stripe_id != MARKER
    ]


def consumed(routing_key: str, outcome: str) -> float:
    """How many ``routing_key`` deliveries this process's consumers settled with ``outcome``
    (acked, retried, parked): what a listener test waits on instead of a sleep."""
    value = REGISTRY.get_sample_value(
        "events_consumed_total", {"event": routing_key, "outcome": outcome}
    )
    return value or 0.0


async def settled(routing_key: str, outcome: str, at_least: float) -> None:
    """Wait until ``consumed(routing_key, outcome)`` reaches ``at_least``."""
    await eventually(
        lambda: consumed(routing_key, outcome) >= at_least,
        what=f"{at_least:g} {routing_key} {outcome}",
    )


def stripe_event(event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A Stripe webhook event of ``event_type`` about ``obj``, with a fresh id."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": event_type,
        "data": {"object": obj},
    }


def signed_webhook(event: dict[str, Any], secret: str = WEBHOOK_SECRET) -> tuple[str, str]:
    """A webhook body and its ``Stripe-Signature``, as Stripe would send them."""
    payload = json.dumps(event)
    return payload, stripe.WebhookSignature.generate_signature_header(payload, secret)
