"""The consumer runner on a real broker: ack after success, delayed retry, parking, re-drive."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from aio_pika.abc import AbstractConnection
from prometheus_client import REGISTRY

from shared.events import Event, TicketCreated, TicketUpdated
from shared.messaging import (
    AmqpSettings,
    Consumer,
    Delivery,
    PublishFailed,
    RetryLater,
    Subscription,
    Topology,
    UnitOfWork,
    open_messaging,
    open_transactional,
)
from shared.messaging.redrive import list_parked, redrive
from shared.mongo import Mongo
from shared.testing.infra import close_connections, has_rabbitmqctl
from shared.testing.poll import eventually
from shared.tests.conftest import Consuming


def a_ticket(version: int = 0, **overrides: Any) -> TicketCreated:
    fields: dict[str, Any] = {
        "id": "60029252cba1360018999688",
        "version": version,
        "title": "Concert",
        "price_cents": 1050,
        "user_id": "5fd843a29fc5e30023bd790b",
    }
    fields.update(overrides)
    return TicketCreated(**fields)


def an_update(version: int = 1) -> TicketUpdated:
    return TicketUpdated(
        id="60029252cba1360018999688",
        version=version,
        title="Gig",
        price_cents=2000,
        user_id="5fd843a29fc5e30023bd790b",
    )


@dataclass
class Recorder:
    """A handler that records every call and then does what ``behaviour`` says."""

    behaviour: Callable[[Event, Delivery], Awaitable[None]] | None = None
    calls: list[tuple[Event, Delivery, float]] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)

    async def __call__(self, event: Event, delivery: Delivery) -> None:
        self.calls.append((event, delivery, asyncio.get_running_loop().time()))
        if self.behaviour is not None:
            await self.behaviour(event, delivery)
        self.returned.append(delivery.message_id)


async def test_a_published_event_reaches_the_handler_decoded_with_its_message_id(
    consuming: Consuming,
) -> None:
    handler = Recorder()
    async with consuming(handler) as messaging:
        message_id = await messaging.publisher.publish_event(a_ticket(), headers={"x-trace": "abc"})

        await eventually(lambda: handler.returned, what="the handler to run")

    event, delivery, _ = handler.calls[0]
    assert event == a_ticket()
    assert (delivery.message_id, delivery.routing_key, delivery.attempt) == (
        message_id,
        "ticket.created",
        1,
    )
    assert delivery.headers["x-trace"] == "abc"


def acked(event: str) -> float:
    labels = {"event": event, "outcome": "acked"}
    return REGISTRY.get_sample_value("events_consumed_total", labels) or 0.0


async def test_as_many_handlers_as_the_prefetch_run_at_once_each_acked_after_it_returns(
    consuming: Consuming, amqp_settings: AmqpSettings
) -> None:
    prefetch = amqp_settings.prefetch
    all_running = asyncio.Barrier(prefetch + 1)  # the handlers and this test
    release = asyncio.Event()

    async def slow(_event: Event, _delivery: Delivery) -> None:
        await all_running.wait()
        await release.wait()

    handler = Recorder(slow)
    async with consuming(handler) as messaging:
        before = acked("ticket.created")
        for version in range(prefetch):
            await messaging.publisher.publish_event(a_ticket(version))

        # Fails by timing out unless every handler is running at once.
        await asyncio.wait_for(all_running.wait(), 10)
        # All of them are inside their handler now: none may have been acked yet.
        assert acked("ticket.created") == before
        assert handler.returned == []
        release.set()

        await eventually(lambda: acked("ticket.created") == before + prefetch)
    assert len(handler.returned) == prefetch


async def test_an_unroutable_publish_raises_publish_failed(amqp_settings: AmqpSettings) -> None:
    async with open_messaging(amqp_settings, service="svc") as messaging:
        try:
            await messaging.publisher.publish_event(a_ticket())
        except PublishFailed as exc:
            failure: PublishFailed | None = exc
        else:
            failure = None

    assert failure is not None
    assert "NO_ROUTE" in str(failure)


@pytest.mark.skipif(not has_rabbitmqctl(), reason="needs rabbitmqctl to drop the connection")
async def test_a_message_whose_handler_had_not_returned_is_delivered_again_after_a_crash(
    amqp_settings: AmqpSettings, consuming: Consuming
) -> None:
    release = asyncio.Event()

    async def slow(_event: Event, _delivery: Delivery) -> None:
        await release.wait()

    handler = Recorder(slow)
    name = f"ack-test-{amqp_settings.namespace}"
    async with consuming(
        handler,
        settings=replace(amqp_settings, queue_type="quorum"),  # x-delivery-count is quorum's
        connection_name=name,
    ) as messaging:
        message_id = await messaging.publisher.publish_event(a_ticket())
        await eventually(lambda: handler.calls, what="the handler to start")

        # The process "crashes" mid-handler: the broker loses the connection.
        await asyncio.to_thread(close_connections, name)
        await eventually(lambda: len(handler.calls) >= 2, what="the redelivery")
        release.set()
        await eventually(lambda: handler.returned)

    assert [d.message_id for _, d, _ in handler.calls[:2]] == [message_id, message_id]
    assert handler.calls[1][1].headers.get("x-delivery-count") == 1


async def test_a_duplicate_delivery_changes_state_once(
    amqp_settings: AmqpSettings, mongo: Mongo
) -> None:
    def counting_handler(uow: UnitOfWork) -> Recorder:
        async def count_once(_event: Event, delivery: Delivery) -> None:
            async with uow.begin() as tx:
                if not await tx.claim(delivery.message_id):
                    return
                await mongo.db.counters.update_one(
                    {"_id": "c"}, {"$inc": {"n": 1}}, upsert=True, session=tx.session
                )

        return Recorder(count_once)

    async with (
        open_messaging(amqp_settings, service="svc") as messaging,
        open_transactional(messaging, mongo) as transactional,
    ):
        handler = counting_handler(transactional.uow)
        await messaging.start_consuming([Subscription(TicketCreated, handler)])
        body = (
            b'{"id":"60029252cba1360018999688","version":0,"title":"x","price":1,'
            b'"userId":"5fd843a29fc5e30023bd790b"}'
        )

        await messaging.publisher.publish("ticket.created", body, message_id="dup-1")
        await messaging.publisher.publish("ticket.created", body, message_id="dup-1")
        await eventually(lambda: len(handler.returned) == 2, what="both deliveries to settle")

    counter = await mongo.db.counters.find_one({"_id": "c"})
    assert counter is not None
    assert counter["n"] == 1
    assert await mongo.db.inbox.count_documents({}) == 1


async def test_a_handler_that_always_fails_is_parked_then_redriven_to_a_fixed_handler(
    amqp_settings: AmqpSettings, consuming: Consuming
) -> None:
    fixed = False

    async def broken_until_fixed(_event: Event, _delivery: Delivery) -> None:
        if not fixed:
            raise RetryLater("dependency not there yet")

    handler = Recorder(broken_until_fixed)
    async with consuming(handler) as messaging:
        message_id = await messaging.publisher.publish_event(a_ticket())
        topology, connection = messaging.topology, messaging.connection

        parked = await eventually(
            lambda: list_parked(connection, topology, "svc"), what="the message to be parked"
        )
        attempts_before_parking = len(handler.calls)
        fixed = True
        moved = await redrive(connection, topology, "svc")
        await eventually(lambda: handler.returned, what="the re-driven message to be handled")
        parked_after = await list_parked(connection, topology, "svc")

    assert [(p.message_id, p.type, p.reason) for p in parked] == [
        (message_id, "ticket.created", "max-retries")
    ]
    assert "dependency not there yet" in parked[0].error
    assert attempts_before_parking == amqp_settings.max_retries
    assert moved == 1
    assert handler.calls[-1][1].attempt == 1  # the counter was reset
    assert parked_after == []


async def test_a_handler_bug_is_parked_at_once_without_retries(consuming: Consuming) -> None:
    async def buggy(_event: Event, _delivery: Delivery) -> None:
        raise KeyError("price")

    handler = Recorder(buggy)
    async with consuming(handler) as messaging:
        await messaging.publisher.publish_event(a_ticket())
        parked = await eventually(
            lambda: list_parked(messaging.connection, messaging.topology, "svc")
        )

    assert len(handler.calls) == 1
    assert parked[0].reason == "handler-error"
    assert "KeyError" in parked[0].error


async def test_a_malformed_message_is_parked_without_calling_the_handler(
    consuming: Consuming,
) -> None:
    handler = Recorder()
    async with consuming(handler) as messaging:
        await messaging.publisher.publish("ticket.created", b'{"id": 1}', message_id="bad-1")
        parked = await eventually(
            lambda: list_parked(messaging.connection, messaging.topology, "svc")
        )

    assert handler.calls == []
    assert [(p.message_id, p.reason) for p in parked] == [("bad-1", "malformed")]


async def _parked_count(connection: AbstractConnection, topology: Topology, count: int) -> bool:
    return len(await list_parked(connection, topology, "svc")) == count


async def test_redrive_by_id_moves_only_the_chosen_message(consuming: Consuming) -> None:
    async def buggy(_event: Event, _delivery: Delivery) -> None:
        raise ValueError("boom")

    async with consuming(Recorder(buggy)) as messaging:
        connection, topology = messaging.connection, messaging.topology
        first = await messaging.publisher.publish_event(a_ticket())
        second = await messaging.publisher.publish_event(a_ticket(version=1))
        await eventually(lambda: _parked_count(connection, topology, 2), what="both to be parked")
        assert messaging.consumer is not None
        await messaging.consumer.stop()  # so the re-driven copy waits in the work queue

        moved = await redrive(connection, topology, "svc", message_ids={second})

        left = await list_parked(connection, topology, "svc")
        main = await (await connection.channel()).declare_queue(
            topology.queue_names("svc").main, passive=True
        )
        again = await main.get(fail=False, no_ack=True, timeout=5)

    assert moved == 1
    assert [p.message_id for p in left] == [first]
    assert again is not None
    assert again.message_id == second
    assert again.type == "ticket.created"
    assert again.headers.get("x-attempt") is None
    assert again.headers.get("x-parked-reason") is None


async def test_an_early_update_is_retried_after_the_delay_and_applied_after_its_predecessor(
    amqp_settings: AmqpSettings,
) -> None:
    replica: dict[str, int] = {}
    applied: list[int] = []

    async def on_created(event: Event, _delivery: Delivery) -> None:
        assert isinstance(event, TicketCreated)
        replica.setdefault(event.id, event.version)

    async def on_updated(event: Event, _delivery: Delivery) -> None:
        assert isinstance(event, TicketUpdated)
        if replica.get(event.id) != event.version - 1:
            raise RetryLater(f"ticket {event.id} v{event.version} before v{event.version - 1}")
        replica[event.id] = event.version
        applied.append(event.version)

    updates = Recorder(on_updated)
    settings = dataclasses.replace(amqp_settings, max_retries=20)
    subscriptions: list[Subscription[Any]] = [
        Subscription(TicketCreated, on_created),
        Subscription(TicketUpdated, updates),
    ]
    async with open_messaging(settings, service="svc", subscriptions=subscriptions) as messaging:
        await messaging.publisher.publish_event(an_update(version=1))
        await eventually(lambda: len(updates.calls) >= 2, what="a retry of the early update")
        await messaging.publisher.publish_event(a_ticket(version=0))
        await eventually(lambda: applied, what="the update to be applied")

    times = [at for _, _, at in updates.calls]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert applied == [1]
    assert replica["60029252cba1360018999688"] == 1
    assert [d.attempt for _, d, _ in updates.calls] == list(range(1, len(updates.calls) + 1))
    assert min(gaps) >= settings.retry_delay_ms / 1000 * 0.9, gaps


async def test_a_key_the_service_no_longer_subscribes_to_is_unbound(
    amqp_settings: AmqpSettings, amqp_connection: AbstractConnection, consuming: Consuming
) -> None:
    topology = Topology.from_settings(amqp_settings)
    # Yesterday's version of the service listened to both keys.
    await topology.declare_service_queues(
        await amqp_connection.channel(), "svc", ["ticket.created", "ticket.updated"]
    )

    async with consuming(Recorder()) as messaging:
        await messaging.publisher.publish_event(a_ticket())
        with pytest.raises(PublishFailed):
            await messaging.publisher.publish_event(an_update())


def test_two_subscriptions_for_one_key_are_refused(amqp_settings: AmqpSettings) -> None:
    with pytest.raises(ValueError, match=r"ticket\.created"):
        Consumer(
            None,  # type: ignore[arg-type]
            Topology(),
            "svc",
            [Subscription(TicketCreated, Recorder()), Subscription(TicketCreated, Recorder())],
            amqp_settings,
        )
