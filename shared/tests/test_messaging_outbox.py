"""Outbox, relay and unit of work on real MongoDB (wire server) and RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from prometheus_client import REGISTRY
from pymongo import ASCENDING

from shared.errors import Conflict
from shared.events import Event, ExpirationComplete, TicketCreated, TicketUpdated, decode
from shared.messaging import (
    AmqpSettings,
    Delivery,
    Inbox,
    Outbox,
    OutboxRelay,
    Publisher,
    Subscription,
    Topology,
    UnitOfWork,
    open_messaging,
    open_transactional,
)
from shared.messaging.outbox import COLLECTION as OUTBOX
from shared.messaging.outbox import Settled
from shared.metrics import OUTBOX_BACKLOG
from shared.mongo import Mongo
from shared.testing.poll import eventually

TICKET = TicketCreated(
    id="60029252cba1360018999688",
    version=0,
    title="Concert",
    price_cents=1050,
    user_id="5fd843a29fc5e30023bd790b",
)


async def unpublished(mongo: Mongo) -> list[dict[str, Any]]:
    """Every outbox entry not yet published, oldest first."""
    cursor = mongo.db[OUTBOX].find({"published_at": None})
    return [doc async for doc in cursor.sort("created_at", ASCENDING)]


class Received:
    """Messages a plain queue consumer saw, by message id."""

    def __init__(self) -> None:
        self.messages: list[AbstractIncomingMessage] = []
        self.arrived_at: dict[str, float] = {}

    async def __call__(self, message: AbstractIncomingMessage) -> None:
        self.messages.append(message)
        self.arrived_at.setdefault(message.message_id or "", asyncio.get_running_loop().time())
        await message.ack()

    @property
    def ids(self) -> list[str]:
        return [m.message_id or "" for m in self.messages]


Listen = Callable[..., Awaitable[Received]]


@pytest.fixture
def topology(amqp_settings: AmqpSettings) -> Topology:
    return Topology.from_settings(amqp_settings)


@pytest.fixture
async def outbox(mongo: Mongo) -> Outbox:
    box = Outbox(mongo.db)
    await box.ensure_indexes()
    return box


@pytest.fixture
async def uow(mongo: Mongo, outbox: Outbox) -> UnitOfWork:
    """A unit of work with the inbox of consumer ``svc``."""
    inbox = Inbox(mongo.db, "svc")
    await inbox.ensure_indexes()
    return UnitOfWork(mongo, outbox, inbox=inbox)


@pytest.fixture
async def publisher(
    amqp_connection: AbstractRobustConnection, topology: Topology
) -> AsyncIterator[Publisher]:
    pub = Publisher(amqp_connection, topology, timeout_s=5)
    await pub.start()
    yield pub
    await pub.close()


@pytest.fixture
def listen(amqp_connection: AbstractRobustConnection, topology: Topology) -> Listen:
    """``await listen(*keys)``: what a queue of its own bound to ``keys`` receives."""

    async def start_listening(*keys: str) -> Received:
        channel = await amqp_connection.channel()
        queues = await topology.declare_service_queues(channel, "listener", keys)
        received = Received()
        await queues.main.consume(received)
        return received

    return start_listening


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[None]:
    """``relay.run()`` in the background for the block; stopped and awaited after it."""
    task = asyncio.create_task(relay.run())
    try:
        yield
    finally:
        relay.stop()
        await asyncio.wait_for(task, 5)


UNOBSERVED = -1.0  # a backlog no relay reports


def forget_the_backlog() -> None:
    """Set the backlog gauge to a value no relay reports, so that a test can see a relay's
    first pass end (``first_pass_ended``)."""
    OUTBOX_BACKLOG.set(UNOBSERVED)


async def first_pass_ended() -> None:
    """The barrier for "the relay's first pass is over": a pass ends by reporting the
    backlog (the first one always does), after its last claim. What is written after
    this, only a notify or the next sweep publishes."""
    await eventually(
        lambda: REGISTRY.get_sample_value("outbox_backlog") != UNOBSERVED,
        what="the relay's first pass to end",
    )


async def test_an_entry_committed_but_never_published_is_published_by_the_sweep_of_a_starting_relay(
    mongo: Mongo, outbox: Outbox, publisher: Publisher, listen: Listen
) -> None:
    received = await listen("ticket.created")
    # The crash: the transaction committed, then the process died before any relay ran.
    async with UnitOfWork(mongo, outbox).begin() as tx:
        [message_id] = await tx.emit(TICKET)
    relay = OutboxRelay(outbox, publisher, sweep_interval_s=0.2)

    async with running(relay):
        await eventually(lambda: message_id in received.ids, what="the leftover to be published")

    message = received.messages[0]
    assert decode(message.type or "", message.body) == TICKET
    assert await outbox.backlog() == (0, 0.0)
    # Confirmed, so gone: consumers' inboxes and replicas remember it from here on.
    assert await mongo.db.outbox.find_one({"_id": message_id}) is None


async def test_a_committed_event_is_published_at_once_without_waiting_for_the_sweep(
    mongo: Mongo, outbox: Outbox, publisher: Publisher, listen: Listen
) -> None:
    received = await listen("ticket.created")
    relay = OutboxRelay(outbox, publisher, sweep_interval_s=60)
    loop = asyncio.get_running_loop()

    forget_the_backlog()

    async with running(relay):
        await first_pass_ended()  # the next sweep is a minute away
        committed_at = loop.time()
        async with UnitOfWork(mongo, outbox, relay).begin() as tx:
            [message_id] = await tx.emit(TICKET)
        await eventually(lambda: message_id in received.ids, timeout_s=5)

    assert received.arrived_at[message_id] - committed_at < 2.0


async def test_a_failed_publish_leaves_the_entry_pending_and_a_later_sweep_publishes_it(
    mongo: Mongo, outbox: Outbox, publisher: Publisher, listen: Listen
) -> None:
    async with UnitOfWork(mongo, outbox).begin() as tx:
        [message_id] = await tx.emit(TICKET)
    relay = OutboxRelay(outbox, publisher, sweep_interval_s=0.2)

    published = await relay.flush()  # nobody is bound to ticket.created: unroutable

    pending = await unpublished(mongo)
    assert published == 0
    assert [doc["_id"] for doc in pending] == [message_id]
    assert pending[0]["published_at"] is None

    received = await listen("ticket.created")
    async with running(relay):
        await eventually(lambda: message_id in received.ids, what="the retry on a later sweep")
    assert await unpublished(mongo) == []


async def test_a_transaction_that_raises_leaves_neither_the_entity_nor_the_outbox_entry(
    mongo: Mongo, outbox: Outbox
) -> None:
    class Boom(Exception):
        pass

    async def place_ticket_then_fail() -> None:
        async with UnitOfWork(mongo, outbox).begin() as tx:
            await mongo.db.tickets.insert_one(
                {"_id": "60029252cba1360018999688", "version": 0}, session=tx.session
            )
            await tx.emit(TICKET)
            raise Boom

    with pytest.raises(Boom):
        await place_ticket_then_fail()

    assert await mongo.db.tickets.count_documents({}) == 0
    assert await mongo.db.outbox.count_documents({}) == 0


async def test_events_of_one_transaction_are_published_in_the_order_emitted(
    mongo: Mongo, outbox: Outbox, publisher: Publisher, listen: Listen
) -> None:
    received = await listen("ticket.created", "expiration.complete")
    async with UnitOfWork(mongo, outbox).begin() as tx:
        ids = await tx.emit(TICKET, ExpirationComplete(order_id="600310f88dab780018985931"), TICKET)

    await OutboxRelay(outbox, publisher).flush()

    await eventually(lambda: len(received.ids) == 3)
    assert received.ids == ids


async def test_two_relays_sweeping_at_once_publish_each_entry_once(
    mongo: Mongo,
    outbox: Outbox,
    publisher: Publisher,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
    listen: Listen,
) -> None:
    received = await listen("ticket.created")
    async with UnitOfWork(mongo, outbox).begin() as tx:
        ids = await tx.emit(*[TICKET] * 8)
    other_publisher = Publisher(amqp_connection, topology)
    await other_publisher.start()

    counts = await asyncio.gather(
        OutboxRelay(outbox, publisher).flush(),
        OutboxRelay(Outbox(mongo.db), other_publisher).flush(),
    )
    # The barrier: both flushes returned, so the broker has confirmed (queued) all they
    # published, duplicates too; a marker each publisher sends now lands behind them.
    markers = ["marker-1", "marker-2"]
    for pub, marker in zip((publisher, other_publisher), markers, strict=True):
        await pub.publish("ticket.created", b"{}", message_id=marker)
    await eventually(lambda: set(markers) <= set(received.ids), what="both markers")
    await other_publisher.close()

    assert sum(counts) == len(ids)
    assert sorted(i for i in received.ids if i not in markers) == sorted(ids)


async def test_backlog_counts_pending_entries_and_the_age_of_the_oldest(
    mongo: Mongo, outbox: Outbox
) -> None:
    async with UnitOfWork(mongo, outbox).begin() as tx:
        oldest, newest = await tx.emit(TICKET, TICKET)
    # Written a minute ago and ten seconds ago, instead of sleeping for an age to measure.
    now = datetime.now(UTC)
    for message_id, age_s in ((oldest, 60), (newest, 10)):
        await mongo.db[OUTBOX].update_one(
            {"_id": message_id}, {"$set": {"created_at": now - timedelta(seconds=age_s)}}
        )

    count, oldest_age_s = await outbox.backlog()

    assert count == 2
    assert 60 <= oldest_age_s < 70


async def test_a_claimed_message_id_is_refused_the_second_time_and_its_writes_are_dropped(
    mongo: Mongo, uow: UnitOfWork
) -> None:
    claims = []
    for _ in range(2):
        async with uow.begin() as tx:
            claimed = await tx.claim("m1")
            claims.append(claimed)
            await mongo.db.counters.update_one(
                {"_id": "c"}, {"$inc": {"n": 1}}, upsert=True, session=tx.session
            )

    counter = await mongo.db.counters.find_one({"_id": "c"})
    assert claims == [True, False]
    assert counter is not None
    assert counter["n"] == 1


async def test_inboxes_of_two_consumers_do_not_share_message_ids(
    mongo: Mongo, outbox: Outbox
) -> None:
    async with UnitOfWork(mongo, outbox, inbox=Inbox(mongo.db, "orders")).begin() as tx:
        first = await tx.claim("m1")
    async with UnitOfWork(mongo, outbox, inbox=Inbox(mongo.db, "payments")).begin() as tx:
        second = await tx.claim("m1")

    assert (first, second) == (True, True)


async def test_open_transactional_relays_events_written_through_its_unit_of_work(
    amqp_settings: AmqpSettings, mongo: Mongo, listen: Listen
) -> None:
    received = await listen("ticket.created")
    async with (
        open_messaging(amqp_settings, service="tickets") as messaging,
        open_transactional(messaging, mongo) as transactional,
    ):
        assert messaging.ready
        async with transactional.uow.begin() as tx:
            await mongo.db.tickets.insert_one(
                {"_id": "60029252cba1360018999688", "version": 0}, session=tx.session
            )
            [message_id] = await tx.emit(TICKET, headers={"x-request-id": "r1"})

        await eventually(lambda: message_id in received.ids)

    message = received.messages[0]
    assert message.headers.get("x-request-id") == "r1"
    assert message.content_type == "application/json"
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert message.type == "ticket.created"
    assert message.timestamp is not None


async def test_leaving_open_transactional_publishes_what_is_still_pending(
    amqp_settings: AmqpSettings, mongo: Mongo, listen: Listen
) -> None:
    received = await listen("ticket.created")
    settings = dataclasses.replace(amqp_settings, sweep_interval_s=60)
    forget_the_backlog()
    async with (
        open_messaging(settings, service="tickets") as messaging,
        open_transactional(messaging, mongo) as transactional,
    ):
        await first_pass_ended()  # the next sweep is a minute away
        # Written without notifying the relay: only the flush on exit can publish it.
        async with UnitOfWork(mongo, transactional.outbox).begin() as tx:
            [message_id] = await tx.emit(TICKET)

    await eventually(lambda: message_id in received.ids, timeout_s=5)


UPDATED = TicketUpdated(
    id=TICKET.id,
    version=1,
    title=TICKET.title,
    price_cents=TICKET.price_cents,
    user_id=TICKET.user_id,
    order_id=None,
)


async def test_what_a_handler_emits_while_the_service_stops_is_published_before_it_stops(
    amqp_settings: AmqpSettings, mongo: Mongo, listen: Listen
) -> None:
    received = await listen("ticket.updated")
    handling = asyncio.Event()
    release = asyncio.Event()
    emitted: list[str] = []

    async def handler(_event: Event, delivery: Delivery) -> None:
        handling.set()
        await release.wait()
        async with transactional.uow.begin() as tx:
            emitted.extend(await tx.emit(UPDATED))

    async with contextlib.AsyncExitStack() as stack:
        messaging = await stack.enter_async_context(open_messaging(amqp_settings, service="svc"))
        transactional = await stack.enter_async_context(open_transactional(messaging, mongo))
        await messaging.start_consuming([Subscription(TicketCreated, handler)])
        await messaging.publisher.publish_event(TICKET)
        await handling.wait()
        stopping = asyncio.create_task(stack.aclose())
        consumer = messaging.consumer
        assert consumer is not None
        # Stopping has begun with the consumer; only now does the handler emit, so the relay
        # and its last flush must still be there to publish it.
        await eventually(lambda: not consumer.ready, what="the consumer to be stopped first")
        release.set()
        await stopping

    assert len(emitted) == 1
    await eventually(lambda: emitted[0] in received.ids, timeout_s=5)


async def test_two_deliveries_racing_to_claim_one_message_apply_it_once(
    mongo: Mongo, uow: UnitOfWork
) -> None:
    both_claimed = asyncio.Barrier(2)

    async def deliver() -> bool:
        async with uow.begin() as tx:
            claimed = await tx.claim("m1")
            if claimed:
                # A distinct document per delivery: only the inbox can make them collide.
                await mongo.db.effects.insert_one({"message_id": "m1"}, session=tx.session)
            # Neither commits before both have looked at the inbox (unless writes are
            # serialized, as on mongoeco: then the second waits for the first to commit).
            with contextlib.suppress(asyncio.BrokenBarrierError, TimeoutError):
                await asyncio.wait_for(both_claimed.wait(), 0.5)
            return claimed

    outcomes = await asyncio.gather(deliver(), deliver(), return_exceptions=True)

    assert await mongo.db.effects.count_documents({}) == 1
    # The loser either saw the claim or lost the commit (a Conflict the consumer retries).
    winners = [outcome for outcome in outcomes if outcome is True]
    [loser] = [outcome for outcome in outcomes if outcome is not True]
    assert len(winners) == 1
    assert loser is False or isinstance(loser, Conflict), loser


async def test_an_event_waits_while_an_older_one_of_its_subject_is_held_by_a_dead_relay(
    mongo: Mongo, outbox: Outbox, publisher: Publisher, listen: Listen
) -> None:
    received = await listen("ticket.created", "ticket.updated")
    updated = TicketUpdated(
        id="60029252cba1360018999688",
        version=1,
        title="Concert",
        price_cents=2000,
        user_id="5fd843a29fc5e30023bd790b",
        order_id=None,
    )
    other = dataclasses.replace(TICKET, id="60029252cba1360018999689")
    ids = []
    for event in (TICKET, updated, other):  # three transactions, in this order
        async with UnitOfWork(mongo, outbox).begin() as tx:
            ids += await tx.emit(event)
    created_id, updated_id, other_id = ids
    # A relay claims t1's ticket.created, then dies before publishing it.
    dead = await outbox.claim_next(lease_s=1.0)
    assert dead is not None
    assert dead.message_id == created_id

    relay = OutboxRelay(outbox, publisher)
    assert await relay.flush() == 1  # t2 goes; t1's update waits for its creation

    async def all_out() -> bool:
        await relay.flush()  # the dead relay's lease runs out after a second
        return len(received.ids) == 3

    await eventually(all_out, timeout_s=10, interval_s=0.1, what="t1's events after the lease")
    assert received.ids == [other_id, created_id, updated_id]


def updated_to(ticket: TicketCreated, version: int) -> TicketUpdated:
    return TicketUpdated(
        id=ticket.id,
        version=version,
        title=ticket.title,
        price_cents=ticket.price_cents + version,
        user_id=ticket.user_id,
        order_id=None,
    )


async def test_one_batch_takes_several_events_of_a_subject_and_publishes_them_in_order(
    mongo: Mongo, outbox: Outbox, publisher: Publisher, listen: Listen
) -> None:
    received = await listen("ticket.created", "ticket.updated")
    tickets = [dataclasses.replace(TICKET, id=f"60029252cba13600189996{n:02d}") for n in range(10)]
    emitted: dict[str, list[str]] = {ticket.id: [] for ticket in tickets}
    # Interleaved, one transaction each: created for all, then updates 1..4 for all.
    for version in range(5):
        for ticket in tickets:
            event: Event = ticket if version == 0 else updated_to(ticket, version)
            async with UnitOfWork(mongo, outbox).begin() as tx:
                emitted[ticket.id] += await tx.emit(event)

    batch = await outbox.claim_batch(100, lease_s=5)
    await outbox.settle(Settled(held_back=[entry.message_id for entry in batch]))
    published = await OutboxRelay(outbox, publisher, batch=100, in_flight=16).flush()

    assert len(batch) == 50  # every entry of every subject, in one batch
    assert published == 50
    await eventually(lambda: len(received.ids) == 50)
    subject_of = {i: ticket_id for ticket_id, ids in emitted.items() for i in ids}
    for ticket_id, ids in emitted.items():
        assert [i for i in received.ids if subject_of[i] == ticket_id] == ids
    assert await unpublished(mongo) == []


async def test_a_failed_publish_in_a_batch_holds_back_the_later_events_of_its_subject_only(
    mongo: Mongo,
    outbox: Outbox,
    publisher: Publisher,
    listen: Listen,
    amqp_connection: AbstractRobustConnection,
    topology: Topology,
) -> None:
    # Nobody is bound to ticket.created yet: its publish fails (unroutable), the update
    # written after it must not go first; another ticket's update is not held back.
    received = await listen("ticket.updated")
    other = dataclasses.replace(TICKET, id="60029252cba1360018999689")
    ids = []
    for event in (TICKET, updated_to(TICKET, 1), updated_to(other, 1)):
        async with UnitOfWork(mongo, outbox).begin() as tx:
            ids += await tx.emit(event)
    created_id, updated_id, other_id = ids
    relay = OutboxRelay(outbox, publisher, sweep_interval_s=0.2)

    assert await relay.flush() == 1

    await eventually(lambda: other_id in received.ids)
    assert [doc["_id"] for doc in await unpublished(mongo)] == [created_id, updated_id]
    # Now ticket.created is routable, to a queue of its own.
    channel = await amqp_connection.channel()
    tap = await channel.declare_queue(exclusive=True)
    await tap.bind(await topology.declare_exchange(channel), routing_key="ticket.created")
    created = Received()
    await tap.consume(created)

    async def all_out() -> bool:
        await relay.flush()  # the failed entry is out of reach for the sweep interval
        return updated_id in received.ids

    await eventually(all_out, what="the held-back update after its creation")
    assert created_id in created.ids
    assert received.ids == [other_id, updated_id]
    assert await unpublished(mongo) == []


async def test_an_event_just_committed_still_waits_for_an_older_one_of_its_subject(
    mongo: Mongo, outbox: Outbox, publisher: Publisher, listen: Listen
) -> None:
    received = await listen("ticket.created", "ticket.updated")
    async with UnitOfWork(mongo, outbox).begin() as tx:
        [created_id] = await tx.emit(TICKET)
    dead = await outbox.claim_next(lease_s=1.0)  # a relay that died holding it
    assert dead is not None
    relay = OutboxRelay(outbox, publisher)
    # Committed through a unit of work that notifies the relay with its ids: the relay
    # leases it at once, and must give it back when the window shows the older one.
    async with UnitOfWork(mongo, outbox, relay).begin() as tx:
        [updated_id] = await tx.emit(updated_to(TICKET, 1))

    assert await relay.flush() == 0

    [_, waiting] = await unpublished(mongo)
    assert waiting["_id"] == updated_id
    assert waiting["lease_until"] <= datetime.now(UTC)  # given back, not held for 30 s

    async def all_out() -> bool:
        await relay.flush()  # the dead relay's lease runs out after a second
        return len(received.ids) == 2

    await eventually(all_out, timeout_s=10, interval_s=0.1, what="both after the lease")
    assert received.ids == [created_id, updated_id]


async def test_after_a_failed_publish_the_rest_of_the_batch_waits_for_the_next_round(
    mongo: Mongo, outbox: Outbox, publisher: Publisher, listen: Listen
) -> None:
    # One publish at a time: ticket.created (nobody bound: it fails) goes first, and the
    # other ticket's update, not started by then, is given back rather than tried.
    received = await listen("ticket.updated")
    other = dataclasses.replace(TICKET, id="60029252cba1360018999689")
    ids = []
    for event in (TICKET, updated_to(other, 1)):
        async with UnitOfWork(mongo, outbox).begin() as tx:
            ids += await tx.emit(event)
    created_id, other_id = ids
    relay = OutboxRelay(outbox, publisher, sweep_interval_s=30, in_flight=1)

    assert await relay.flush() == 0  # nothing went through: the pass ends

    now = datetime.now(UTC)
    leases = {doc["_id"]: doc["lease_until"] for doc in await unpublished(mongo)}
    assert leases[created_id] > now + timedelta(seconds=20)  # failed: retried after the sweep
    assert leases[other_id] <= now  # given back, never tried (a published one is deleted)
    assert await relay.flush() == 1
    await eventually(lambda: received.ids == [other_id])
