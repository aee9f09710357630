"""Every store a run inspects, read as it is now: the services' MongoDB databases, the
broker's queues (depth and parked messages) and Stripe's own view of each order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
import aiohttp
import stripe
from aio_pika.abc import AbstractConnection
from aiormq.exceptions import ChannelNotFoundEntity
from bson import ObjectId
from pymongo import AsyncMongoClient

from shared.messaging.redrive import ParkedMessage, list_parked
from shared.messaging.topology import Topology
from shared.mongo import database_from_url
from shared.testing.money import AtStripe, at_stripe
from tools.chaos.stack import StackState

Document = dict[str, Any]
CONSUMERS = ("tickets", "orders", "payments", "expiration")
OUTBOX_SERVICES = ("auth", "tickets", "orders", "payments")
STRIPE_CONCURRENCY = 16


@dataclass
class Snapshot:
    """The stores' contents for the run's tickets (and their orders), plus the broker."""

    now: datetime
    tickets: dict[str, Document] = field(default_factory=dict)  # tickets service
    ticket_replicas: dict[str, Document] = field(default_factory=dict)  # orders' copy
    orders: dict[str, Document] = field(default_factory=dict)  # orders service
    order_replicas: dict[str, Document] = field(default_factory=dict)  # payments' copy
    payments: list[Document] = field(default_factory=list)  # payments' records
    at_stripe: dict[str, AtStripe] | None = None  # by order id, when asked for
    outbox_pending: dict[str, int] = field(default_factory=dict)
    queue_depths: dict[str, int] = field(default_factory=dict)
    parked: dict[str, list[ParkedMessage]] = field(default_factory=dict)


def _by_id(docs: Iterable[Document]) -> dict[str, Document]:
    return {str(doc["_id"]): doc for doc in docs}


class Stores:
    """Clients on every store of a stack, opened once for the checks."""

    def __init__(self, state: StackState) -> None:
        self.state = state
        self.mongo: dict[str, AsyncMongoClient[Document]] = {}
        self.amqp: AbstractConnection | None = None
        self.http: aiohttp.ClientSession | None = None
        self.topology = Topology(namespace=state.namespace)

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(cls, state: StackState) -> AsyncIterator[Stores]:
        stores = cls(state)
        try:
            for name, process in state.processes.items():
                if process.mongo_url:
                    stores.mongo[name] = AsyncMongoClient(
                        process.mongo_url, tz_aware=True, serverSelectionTimeoutMS=10_000
                    )
            stores.amqp = await aio_pika.connect(
                state.amqp_url, client_properties={"connection_name": "chaos-checks"}
            )
            stores.http = aiohttp.ClientSession()
            yield stores
        finally:
            for client in stores.mongo.values():
                await client.close()
            if stores.amqp is not None:
                await stores.amqp.close()
            if stores.http is not None:
                await stores.http.close()

    def _db(self, service: str) -> Any:
        url = self.state.processes[service].mongo_url or ""
        return self.mongo[service][database_from_url(url) or service]

    async def _find(self, service: str, collection: str, query: Document) -> list[Document]:
        if service not in self.mongo:
            return []
        return [doc async for doc in self._db(service)[collection].find(query)]

    async def snapshot(self, ticket_ids: Iterable[str], *, with_stripe: bool) -> Snapshot:
        keys = [ObjectId(t) for t in ticket_ids]
        snap = Snapshot(now=datetime.now(UTC))
        snap.tickets = _by_id(await self._find("tickets", "tickets", {"_id": {"$in": keys}}))
        snap.ticket_replicas = _by_id(await self._find("orders", "tickets", {"_id": {"$in": keys}}))
        ids = [str(k) for k in keys]
        snap.orders = _by_id(await self._find("orders", "orders", {"ticket_id": {"$in": ids}}))
        order_ids = list(snap.orders)
        snap.order_replicas = _by_id(
            await self._find("payments", "orders", {"_id": {"$in": order_ids}})
        )
        snap.payments = await self._find("payments", "payments", {"order_id": {"$in": order_ids}})
        for service in OUTBOX_SERVICES:
            if service in self.mongo:
                outbox = self._db(service)["outbox"]
                snap.outbox_pending[service] = await outbox.count_documents({"published_at": None})
        snap.queue_depths = await self.queue_depths()
        snap.parked = await self.parked()
        if with_stripe:
            snap.at_stripe = await self.stripe_view(order_ids)
        return snap

    async def queue_depths(self) -> dict[str, int]:
        """Ready messages on every service's work and retry queue."""
        assert self.amqp is not None
        depths: dict[str, int] = {}
        for service in CONSUMERS:
            names = self.topology.queue_names(service)
            for name in (names.main, names.retry):
                # A channel each: a passive declare of a missing queue closes its channel.
                channel = await self.amqp.channel()
                try:
                    queue = await channel.declare_queue(name, passive=True)
                    depths[name] = queue.declaration_result.message_count or 0
                except ChannelNotFoundEntity:
                    continue  # that service does not consume in this stack
                finally:
                    if not channel.is_closed:
                        await channel.close()
        return depths

    async def parked(self) -> dict[str, list[ParkedMessage]]:
        assert self.amqp is not None
        found: dict[str, list[ParkedMessage]] = {}
        for service in CONSUMERS:
            with contextlib.suppress(ChannelNotFoundEntity):
                found[service] = await list_parked(self.amqp, self.topology, service)
        return found

    async def stripe_view(self, order_ids: Iterable[str]) -> dict[str, AtStripe] | None:
        """Stripe's intents and refunds for each order, through the SDK as payments calls it."""
        url = self.state.emulator_url()
        if url is None or self.http is None:
            return None
        client = stripe.StripeClient(
            "sk_test_chaos",
            base_addresses={"api": url},
            http_client=stripe.AIOHTTPClient(session=self.http),
            max_network_retries=2,
        )
        gate = asyncio.Semaphore(STRIPE_CONCURRENCY)

        async def one(order_id: str) -> AtStripe:
            async with gate:
                return await at_stripe(client, order_id)

        views = await asyncio.gather(*(one(order_id) for order_id in order_ids))
        return {view.order_id: view for view in views}
