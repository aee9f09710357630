"""Orders expire through the real broker and Redis: order.created in, expiration.complete out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, retry_key_prefix
from prometheus_client import REGISTRY

from services.expiration.domain import expiry_job_id
from services.expiration.tests.conftest import Client, order_created
from shared.events import ExpirationComplete
from shared.messaging import AmqpSettings, Publisher, Topology, connect
from shared.testing.events import EventTap, tap_events
from shared.testing.poll import eventually

# How promptly an order expires is measured by bench/expiration_lateness.py (beside raw
# arq's figure for the same due times), not asserted here: a timed bound in a test either
# flakes on a busy machine or is too loose to mean anything.


async def expiry_of(events: EventTap, order_id: str) -> datetime:
    """When the order's expiration.complete arrived (we are already waiting for it)."""
    await events.wait_for(ExpirationComplete, lambda e: e.order_id == order_id)
    return datetime.now(UTC)


def expiries_of(events: EventTap, order_id: str) -> list[ExpirationComplete]:
    return [e for e in events.of(ExpirationComplete) if e.order_id == order_id]


async def test_an_order_expires_at_its_expires_at_not_before(
    listener: Client, worker: Client, events: EventTap, publisher: Publisher
) -> None:
    order = order_created(expires_in_s=1.0)

    await publisher.publish_event(order)
    expired_at = await expiry_of(events, order.id)

    assert order.expires_at <= expired_at
    assert expiries_of(events, order.id) == [ExpirationComplete(order_id=order.id)]


async def test_an_order_whose_expires_at_has_passed_expires_before_one_still_held(
    listener: Client, worker: Client, events: EventTap, publisher: Publisher
) -> None:
    held = order_created(expires_in_s=1.0)
    overdue = order_created(expires_in_s=-5.0)

    # The held order is scheduled first: only an overdue job run at once overtakes it.
    await publisher.publish_event(held)
    await publisher.publish_event(overdue)
    await expiry_of(events, held.id)

    order_ids = [e.order_id for e in events.of(ExpirationComplete)]
    assert order_ids.index(overdue.id) < order_ids.index(held.id)


async def test_a_redelivered_order_created_expires_the_order_once(
    listener: Client, worker: Client, events: EventTap, publisher: Publisher
) -> None:
    order = order_created(expires_in_s=0.5)
    marker = order_created(expires_in_s=0.8)

    await publisher.publish_event(order, message_id="order-created-1")
    await publisher.publish_event(order, message_id="order-created-1")  # a redelivery
    await publisher.publish_event(order, message_id="order-created-2")  # a re-publish
    await publisher.publish_event(marker)
    await expiry_of(events, marker.id)

    assert len(expiries_of(events, order.id)) == 1


async def test_an_order_created_replayed_after_the_expiry_fired_does_not_fire_it_again(
    listener: Client, worker: Client, events: EventTap, publisher: Publisher
) -> None:
    order = order_created(expires_in_s=-1.0)
    await publisher.publish_event(order)
    await expiry_of(events, order.id)

    await publisher.publish_event(order)  # say, re-driven from the parked queue
    # Due after the replay would have fired, had it been scheduled again.
    marker = order_created(expires_in_s=0.3)
    await publisher.publish_event(marker)
    await expiry_of(events, marker.id)

    assert len(expiries_of(events, order.id)) == 1


@asynccontextmanager
async def broker_refusing(amqp: AmqpSettings, refusal: str) -> AsyncIterator[None]:
    """The broker refuses ``expiration.complete`` until the block is left.

    ``unroutable``: no queue is bound, so a ``mandatory`` publish comes back.
    ``nacked``: the only bound queue is full and rejects publishes, so the broker nacks.
    """
    if refusal == "unroutable":
        yield
        return
    topology = Topology.from_settings(amqp)
    connection = await connect(amqp.url, connection_name="refusing-broker")
    try:
        channel = await connection.channel()
        exchange = await topology.declare_exchange(channel)
        full = await channel.declare_queue(
            f"{amqp.namespace}.full",
            arguments={"x-max-length": 0, "x-overflow": "reject-publish"},
        )
        await full.bind(exchange, routing_key=ExpirationComplete.routing_key)
        yield
        await full.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()


async def tried(redis: ArqRedis, order_id: str, *, times: int) -> bool:
    """Whether the order's job has started ``times`` times (arq counts them in Redis)."""
    return int(await redis.get(retry_key_prefix + expiry_job_id(order_id)) or 0) >= times


@pytest.mark.parametrize("refusal", ["unroutable", "nacked"])
async def test_an_expiry_the_broker_does_not_confirm_is_retried_until_it_does(
    listener: Client,
    worker: Client,
    publisher: Publisher,
    amqp: AmqpSettings,
    redis: ArqRedis,
    refusal: str,
) -> None:
    order = order_created(expires_in_s=-1.0)

    async with broker_refusing(amqp, refusal):
        await publisher.publish_event(order)
        await eventually(lambda: tried(redis, order.id, times=3))
    async with tap_events(amqp, ExpirationComplete.routing_key) as events:
        # A try in flight when the full queue goes may never hear its confirm: it waits
        # out the publisher's timeout (10 s) before the next try, so allow for that.
        expired = await events.wait_for(
            ExpirationComplete, lambda e: e.order_id == order.id, timeout_s=30
        )

    assert expired == ExpirationComplete(order_id=order.id)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_jobs_and_their_lateness_show_on_metrics(
    listener: Client, worker: Client, events: EventTap, publisher: Publisher
) -> None:
    enqueued = sample("expiration_jobs_total", outcome="enqueued")
    duplicates = sample("expiration_jobs_total", outcome="duplicate")
    fired = sample("expiration_jobs_total", outcome="fired")
    observed = sample("expiration_lateness_seconds_count")
    order = order_created(expires_in_s=0.3)

    await publisher.publish_event(order, message_id="order-created-m")
    await publisher.publish_event(order, message_id="order-created-m2")  # a re-publish
    await expiry_of(events, order.id)

    assert sample("expiration_jobs_total", outcome="enqueued") == enqueued + 1
    assert sample("expiration_jobs_total", outcome="duplicate") == duplicates + 1
    # Counted right after the broker's confirm, which may land after the tap's delivery.
    await eventually(lambda: sample("expiration_jobs_total", outcome="fired") == fired + 1)
    assert sample("expiration_lateness_seconds_count") == observed + 1
    text = await (await worker.get("/metrics")).text()
    assert "expiration_lateness_seconds_bucket" in text


async def test_jobs_are_stored_as_json_not_pickle(
    listener: Client, events: EventTap, publisher: Publisher, redis: ArqRedis
) -> None:
    order = order_created(expires_in_s=60)

    await publisher.publish_event(order)

    key = job_key_prefix + expiry_job_id(order.id)
    raw = await eventually(lambda: redis.get(key), what="the expiry job in Redis")
    job = json.loads(raw)  # pickle would not parse; and loading pickle could run code
    expires_at_ms = round(order.expires_at.timestamp() * 1000)
    assert (job["f"], job["a"]) == ("expire_order", [order.id, expires_at_ms])
