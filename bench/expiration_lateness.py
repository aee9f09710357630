"""How late do orders expire? Prints p50/p95/p99/max lateness of ``expiration.complete``,
beside raw arq's lateness for the same due times.

Runs the expiration listener and worker in this process, with the worker's shipped
tuning unless told otherwise, against the real RabbitMQ and Redis at ``AMQP_URL`` /
``REDIS_URL`` (default: the local ones), on an exchange, queues and arq queue of its
own (the exchange and queues are removed afterwards). It publishes ``--orders``
``order.created`` events whose holds end evenly spread between ``--hold-from-s`` and
``--hold-to-s`` from now, as orders would, and measures for each order when its
``expiration.complete`` reached a queue on the exchange, minus its ``expiresAt``: the
lateness a consumer of the event sees.

The peer: the same due times as jobs enqueued straight into arq (``_defer_until``) on the
same Redis, run by a bare arq ``Worker`` with the same ``poll_delay`` whose job only notes
the time. The gap is what our path adds after arq's polling: the confirmed publish of
``expiration.complete`` and its delivery (the ``order.created`` hop is over before the due
time). This is the figure the expiration tests once bounded at 500 ms.

The holds start once the listener and the worker are open, so that no order is already
due when its ``order.created`` is published. Issue 17's goal: a p99 of at most 50 ms.

    .venv/bin/python -m bench.expiration_lateness [--orders 200] [--hold-from-s 1]
        [--hold-to-s 3] [--poll-delay-s 0.02] [--max-jobs 100] [--quick] [--json PATH]

Equal holds (``--hold-from-s 1 --hold-to-s 1``) make every order expire at once: a
throughput probe rather than a lateness one. A missing ``expiration.complete`` fails the
run (a timeout); a missed goal is a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aiohttp import web
from arq.worker import Worker, func
from bson import ObjectId

from bench.report import Row, table, write_json
from deploy.local.hosts import DEFAULT_AMQP_URL, DEFAULT_REDIS_URL
from services.expiration.adapters.jobs import dump_job, load_job, open_redis
from services.expiration.bootstrap import create_listener as create_listener_app
from services.expiration.bootstrap import create_worker as create_worker_app
from services.expiration.config import SERVICE, ExpirySettings, RedisSettings, Settings
from shared.events import ExpirationComplete, OrderCreated, OrderStatus, TicketRef, decode
from shared.logging import LogSettings
from shared.messaging import AmqpSettings, Topology, connect
from shared.testing.events import event_publisher
from shared.testing.services import until_open
from shared.web import HttpSettings

GOAL_P99_MS = 50.0


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least ``p`` % of the values at or below it."""
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


def bench_settings(*, poll_delay_s: float, max_jobs: int) -> Settings:
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    expiry = ExpirySettings(
        queue_name=f"arq:{namespace}.expiration", poll_delay_s=poll_delay_s, max_jobs=max_jobs
    )
    return Settings(
        http=HttpSettings(),
        log=LogSettings(),
        amqp=AmqpSettings(url=os.environ.get("AMQP_URL", DEFAULT_AMQP_URL), namespace=namespace),
        redis=RedisSettings(url=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)),
        expiry=expiry,
    )


def orders(count: int, hold_from_s: float, hold_to_s: float) -> list[OrderCreated]:
    now = datetime.now(UTC)
    step_s = (hold_to_s - hold_from_s) / max(count - 1, 1)
    return [
        OrderCreated(
            id=str(ObjectId()),
            version=0,
            status=OrderStatus.CREATED,
            user_id=str(ObjectId()),
            expires_at=now + timedelta(seconds=hold_from_s + i * step_s),
            ticket=TicketRef(id=str(ObjectId()), price_cents=2000),
        )
        for i in range(count)
    ]


@dataclass(frozen=True)
class Holds:
    count: int
    from_s: float
    to_s: float


async def measure(
    settings: Settings, holds: Holds, timeout_s: float
) -> tuple[list[OrderCreated], list[float]]:
    """The orders, and the lateness in ms of each one's expiration.complete as it reaches
    a queue; the holds start once the listener and the worker are open."""
    batch: list[OrderCreated] = []
    topology = Topology.from_settings(settings.amqp)
    arrivals: dict[str, float] = {}
    all_arrived = asyncio.Event()

    async def on_expiry(message: AbstractIncomingMessage) -> None:
        arrived_s = time.time()
        async with message.process():
            event = decode(message.type or "", message.body)
            assert isinstance(event, ExpirationComplete)
            arrivals.setdefault(event.order_id, arrived_s)
            if len(arrivals) == len(batch):
                all_arrived.set()

    connection = await connect(settings.amqp.url, connection_name="expiration-bench")
    channel = await connection.channel()
    started: list[web.AppRunner] = []
    try:
        exchange = await topology.declare_exchange(channel)
        tap = await channel.declare_queue(exclusive=True, auto_delete=True)
        await tap.bind(exchange, routing_key=ExpirationComplete.routing_key)
        await tap.consume(on_expiry)
        for create_app in (create_listener_app, create_worker_app):
            runner = web.AppRunner(create_app(settings))
            await runner.setup()
            started.append(runner)
            await until_open(runner.app)  # consumer, publisher, arq worker
        batch.extend(orders(holds.count, holds.from_s, holds.to_s))
        async with event_publisher(settings.amqp) as publisher:
            for order in batch:
                await publisher.publish_event(order)
        await asyncio.wait_for(all_arrived.wait(), timeout_s)
    finally:
        for runner in reversed(started):
            await runner.cleanup()
        await remove_topology(channel, topology)
        await connection.close()
    return batch, [arrivals[o.id] * 1000 - o.expires_at.timestamp() * 1000 for o in batch]


async def measure_raw_arq(settings: Settings, due: list[datetime], timeout_s: float) -> list[float]:
    """Lateness in ms of each deferred job's run, on a bare arq worker (the peer)."""
    queue = f"{settings.expiry.queue_name}.peer"
    ran: dict[str, float] = {}
    all_ran = asyncio.Event()

    async def note(ctx: dict[str, Any], job: str) -> None:
        ran.setdefault(job, time.time())
        if len(ran) == len(due):
            all_ran.set()

    names = [f"peer:{uuid.uuid4().hex}" for _ in due]
    async with open_redis(settings.redis) as redis:
        worker = Worker(
            [func(note, name="note")],
            queue_name=queue,
            redis_pool=redis,
            handle_signals=False,
            poll_delay=settings.expiry.poll_delay_s,
            max_jobs=settings.expiry.max_jobs,
            keep_result=0,
            job_serializer=dump_job,
            job_deserializer=load_job,
        )
        running = asyncio.create_task(worker.async_run())
        try:
            for name, at in zip(names, due, strict=True):
                await redis.enqueue_job(
                    "note", name, _job_id=name, _queue_name=queue, _defer_until=at
                )
            await asyncio.wait_for(all_ran.wait(), timeout_s)
        finally:
            # Under Python 3.11 one cancel may be swallowed by redis-py's wait_for (see
            # services/expiration/worker/supervisor.py), so ask until it is done.
            while not running.done():
                running.cancel()
                await asyncio.wait([running], timeout=0.5)
            await asyncio.gather(worker.close(), return_exceptions=True)
            await redis.delete(queue)
    return [ran[name] * 1000 - at.timestamp() * 1000 for name, at in zip(names, due, strict=True)]


async def remove_topology(channel: AbstractChannel, topology: Topology) -> None:
    """Delete the bench's exchange and the listener's queues and requeue exchange."""
    names = topology.queue_names(SERVICE)
    for queue in (names.main, names.retry, names.parked):
        await channel.queue_delete(queue)
    await channel.exchange_delete(names.requeue)
    await channel.exchange_delete(topology.exchange_name)


def rows(ours_ms: list[float], peer_ms: list[float], poll_delay_s: float) -> list[Row]:
    p99 = percentile(ours_ms, 99)
    return [
        Row(
            "expiration lateness p99",
            p99,
            None,
            "ms",
            GOAL_P99_MS,
            "absolute",
            note=(
                f"raw arq p99 {percentile(peer_ms, 99):.0f} ms, same due times and "
                f"poll_delay {poll_delay_s:g} s; n={len(ours_ms)}"
            ),
        ),
        Row(
            "expiration lateness p50",
            percentile(ours_ms, 50),
            percentile(peer_ms, 50),
            "ms",
            math.nan,
            "shown",
            note="peer: raw arq",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--hold-from-s", type=float, default=1.0)
    parser.add_argument("--hold-to-s", type=float, default=3.0)
    # The worker's own defaults unless given: the bench measures what ships.
    parser.add_argument("--poll-delay-s", type=float, default=ExpirySettings.poll_delay_s)
    parser.add_argument("--max-jobs", type=int, default=ExpirySettings.max_jobs)
    parser.add_argument("--quick", action="store_true", help="50 orders: does it complete?")
    parser.add_argument("--json", help="write the rows (bench.report.Row) to this file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    settings = bench_settings(poll_delay_s=args.poll_delay_s, max_jobs=args.max_jobs)
    holds = Holds(50 if args.quick else args.orders, args.hold_from_s, args.hold_to_s)
    batch, ours = asyncio.run(measure(settings, holds, timeout_s=holds.to_s + 30))
    lateness_ms = sorted(ours)
    # After ours, not beside it, so that neither takes the other's CPU; due as far ahead.
    shift = datetime.now(UTC) - batch[0].expires_at + timedelta(seconds=holds.from_s)
    due = [order.expires_at + shift for order in batch]
    peer_ms = sorted(asyncio.run(measure_raw_arq(settings, due, timeout_s=holds.to_s + 30)))

    print(
        f"expiration lateness: n={len(lateness_ms)} holds {holds.from_s:g}-"
        f"{holds.to_s:g} s, poll_delay {settings.expiry.poll_delay_s:g} s, "
        f"max_jobs {settings.expiry.max_jobs}"
    )
    print(
        f"  min {lateness_ms[0]:.0f} ms  p50 {percentile(lateness_ms, 50):.0f} ms  "
        f"p95 {percentile(lateness_ms, 95):.0f} ms  p99 {percentile(lateness_ms, 99):.0f} ms  "
        f"max {lateness_ms[-1]:.0f} ms"
    )
    print(
        f"  raw arq, same due times: p50 {percentile(peer_ms, 50):.0f} ms  "
        f"p95 {percentile(peer_ms, 95):.0f} ms  p99 {percentile(peer_ms, 99):.0f} ms  "
        f"max {peer_ms[-1]:.0f} ms"
    )
    found = rows(lateness_ms, peer_ms, settings.expiry.poll_delay_s)
    print(table(found))
    if args.json:
        write_json(args.json, found)
    return 0


if __name__ == "__main__":
    sys.exit(main())
