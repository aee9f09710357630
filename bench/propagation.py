"""Idle event propagation (issue 17): from the answer to ``PUT /api/tickets/:id`` until
orders' replica has the new version, beside raw aio-pika doing the floor of that hop.

Ours: tickets and orders in this process (``bench.ticket_updates.services``: real RabbitMQ,
a mongoeco server each or ``MONGO_URL``), one ticket updated over HTTP again and again,
one update at a time with a pause between (idle: nothing else in flight). A sample ends
when orders has acked the ``ticket.updated``, which it does after the commit that applied
it (its ``events_consumed`` counter, read every millisecond: up to 1 ms of the figure is
this polling). The replica's version is checked at the end.

The peer: raw aio-pika in the same process and the same minutes (one peer sample after
each of ours), a persistent message published with confirms to a durable quorum queue that
a consumer of the same process consumes; a sample ends when the confirm is back and the
consumer has the message.

The goal is ours' p99 at most 10 ms above the peer's: the row is that difference.

    .venv/bin/python -m bench.propagation [--samples 300] [--quick] [--json PATH]

Exit status 1 when the replica does not end at the last version (a wrong result).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aio_pika
import aiohttp
from aio_pika.abc import AbstractIncomingMessage

from bench.report import Row, table, write_json
from bench.ticket_updates import (
    Services,
    create_ticket,
    replica_versions,
    services,
    settled,
    stores,
    update_ticket,
)
from deploy.local.hosts import DEFAULT_AMQP_URL

GOAL_GAP_MS = 10.0
PAUSE_S = 0.02  # between samples, so that each finds the pipeline idle
POLL_S = 0.001


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least ``p`` % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def until_settled(event: str, count: float) -> None:
    # A counter has no waiters to wake, and orders' consumer is not ours to hook.
    while settled(event) < count:  # noqa: ASYNC110
        await asyncio.sleep(POLL_S)


class RawPeer:
    """One confirmed publish to a consumed quorum queue, timed until both ends are done."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel, queue: str) -> None:
        self._channel = channel
        self._queue = queue
        self._arrived: dict[str, asyncio.Event] = {}

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        await message.ack()
        if (arrived := self._arrived.get(message.message_id or "")) is not None:
            arrived.set()

    async def sample(self) -> float:
        message_id = uuid.uuid4().hex
        arrived = self._arrived[message_id] = asyncio.Event()
        started = time.perf_counter()
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                b'{"id":"x","version":1}',
                message_id=message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=self._queue,
            mandatory=True,
        )
        await arrived.wait()
        elapsed = time.perf_counter() - started
        del self._arrived[message_id]
        return elapsed * 1000


@asynccontextmanager
async def raw_peer() -> AsyncIterator[RawPeer]:
    connection = await aio_pika.connect(os.environ.get("AMQP_URL", DEFAULT_AMQP_URL))
    try:
        consuming = await connection.channel()
        name = f"bench.peer.{uuid.uuid4().hex[:8]}"
        queue = await consuming.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        publishing = await connection.channel(publisher_confirms=True, on_return_raises=True)
        peer = RawPeer(publishing, name)
        tag = await queue.consume(peer.on_message)
        try:
            yield peer
        finally:
            await queue.cancel(tag)
            await consuming.queue_delete(name)
    finally:
        await connection.close()


@dataclass
class Propagation:
    ours_ms: list[float]
    peer_ms: list[float]
    replica_current: bool
    standin_cpu: float | None


async def ours_sample(
    http: aiohttp.ClientSession, stack: Services, ticket_id: str, i: int
) -> float:
    before = settled("ticket.updated")
    await update_ticket(http, stack, ticket_id, 10 + i % 50)
    answered = time.perf_counter()
    await until_settled("ticket.updated", before + 1)
    return (time.perf_counter() - answered) * 1000


async def measure(samples: int) -> Propagation:
    ours_ms: list[float] = []
    peer_ms: list[float] = []
    with stores() as where:
        async with services(where) as stack, raw_peer() as peer, aiohttp.ClientSession() as http:
            created = settled("ticket.created")
            ticket_id = await create_ticket(http, stack, 5)
            await until_settled("ticket.created", created + 1)
            for i in range(3):  # warm both paths (connections, first queries)
                await ours_sample(http, stack, ticket_id, i)
                await peer.sample()
            started, cpu_before = time.perf_counter(), where.cpu_s()
            for i in range(samples):
                await asyncio.sleep(PAUSE_S)
                ours_ms.append(await ours_sample(http, stack, ticket_id, i))
                await asyncio.sleep(PAUSE_S)
                peer_ms.append(await peer.sample())
            standin_cpu = (where.cpu_s() - cpu_before) / (time.perf_counter() - started)
            [replica] = await replica_versions(stack, [ticket_id])
    return Propagation(
        ours_ms=ours_ms,
        peer_ms=peer_ms,
        replica_current=replica is not None and replica.version == samples + 3,
        standin_cpu=standin_cpu if where.pids else None,
    )


def rows(result: Propagation) -> list[Row]:
    ours50, ours99 = percentile(result.ours_ms, 50), percentile(result.ours_ms, 99)
    peer50, peer99 = percentile(result.peer_ms, 50), percentile(result.peer_ms, 99)
    n = len(result.ours_ms)
    return [
        Row(
            "idle propagation p99 above raw aio-pika's",
            ours99 - peer99,
            None,
            "ms",
            GOAL_GAP_MS,
            "absolute",
            standin_cpu=result.standin_cpu,
            note=f"p99 ours {ours99:.1f} ms, raw aio-pika {peer99:.1f} ms; n={n} each",
        ),
        Row(
            "idle propagation p50",
            ours50,
            peer50,
            "ms",
            math.nan,
            "shown",
            standin_cpu=result.standin_cpu,
            note="PUT answer to orders' replica applied; peer: confirmed publish to consume",
        ),
        Row(
            "idle propagation p99",
            ours99,
            peer99,
            "ms",
            math.nan,
            "shown",
            standin_cpu=result.standin_cpu,
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="20 samples: does it complete?")
    parser.add_argument("--json", help="write the rows (bench.report.Row) to this file")
    args = parser.parse_args()
    result = asyncio.run(measure(20 if args.quick else args.samples))
    found = rows(result)
    for name, values in (("ours", result.ours_ms), ("raw aio-pika", result.peer_ms)):
        print(
            f"{name:>12}: p50 {percentile(values, 50):.1f} ms  p95 {percentile(values, 95):.1f} ms"
            f"  p99 {percentile(values, 99):.1f} ms  max {max(values):.1f} ms"
        )
    print(table(found))
    if args.json:
        write_json(args.json, found)
    if not result.replica_current:
        print("orders' replica did not end at the last version: INCONSISTENT")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
