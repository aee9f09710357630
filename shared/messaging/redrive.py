"""List and re-drive a service's parked messages.

Usage::

    python -m shared.messaging.redrive --service orders [--namespace NS] [--amqp-url URL] list
    python -m shared.messaging.redrive --service orders redrive --all
    python -m shared.messaging.redrive --service orders redrive --id MESSAGE_ID [--id ...]

``AMQP_URL`` and ``AMQP_NAMESPACE`` are the defaults. ``list`` takes messages with
``basic.get`` and hands them back unacknowledged, so nothing is consumed. ``redrive``
puts the chosen messages on the service's work queue (through its requeue exchange, so
the service's own user may run it) with the attempt counter reset, and removes each
from the parked queue only once the broker confirmed the copy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
)
from aiormq.exceptions import ChannelNotFoundEntity

from shared.messaging import headers as h
from shared.messaging.publisher import Publisher, copy_for_queue
from shared.messaging.topology import Topology

GET_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ParkedMessage:
    """One parked message as an operator sees it."""

    message_id: str
    type: str
    reason: str
    error: str
    attempt: int

    def line(self) -> str:
        return "\t".join((self.message_id, self.type, self.reason, self.error.replace("\n", " ")))


def describe(message: AbstractIncomingMessage) -> ParkedMessage:
    """Why and what: our own park headers, or the broker's ``x-death`` (delivery limit)."""
    headers: dict[str, Any] = dict(message.headers or {})
    reason = headers.get(h.PARKED_REASON)
    return ParkedMessage(
        message_id=message.message_id or "",
        type=h.routing_key_of(message),
        reason=h.text(reason) if reason is not None else (h.death_reason(headers) or "unknown"),
        error=h.text(headers.get(h.ERROR, "")),
        attempt=h.attempt_of(headers),
    )


async def _take_all(channel: AbstractChannel, queue_name: str) -> list[AbstractIncomingMessage]:
    # Passive: the operator's settings must not have to match the queue's arguments.
    queue = await channel.declare_queue(queue_name, passive=True)
    taken: list[AbstractIncomingMessage] = []
    # Every message stays unacknowledged on this channel until we settle it, so
    # basic.get never hands the same one back and the loop ends at the queue's end.
    while (message := await queue.get(no_ack=False, fail=False, timeout=GET_TIMEOUT_S)) is not None:
        taken.append(message)
    return taken


async def list_parked(
    connection: AbstractConnection, topology: Topology, service: str
) -> list[ParkedMessage]:
    """The service's parked messages, oldest first, left in place."""
    channel = await connection.channel(publisher_confirms=False)
    try:
        taken = await _take_all(channel, topology.queue_names(service).parked)
        for message in taken:
            await message.reject(requeue=True)
        return [describe(message) for message in taken]
    finally:
        await channel.close()


async def redrive(
    connection: AbstractConnection,
    topology: Topology,
    service: str,
    *,
    message_ids: Collection[str] | None = None,
) -> int:
    """Move parked messages (all, or those in ``message_ids``) back to work; returns how many."""
    names = topology.queue_names(service)
    publisher = Publisher(connection, topology)
    await publisher.start()
    channel = await connection.channel(publisher_confirms=False)
    moved = 0
    try:
        taken = await _take_all(channel, names.parked)
        for message in taken:
            if message_ids is not None and message.message_id not in message_ids:
                await message.reject(requeue=True)
                continue
            # Confirmed on the work queue first, removed from parked second: a crash
            # in between leaves a duplicate, never a loss.
            fresh = copy_for_queue(message, describe(message).type, {})
            await publisher.send_to_queue(names, names.main, fresh)
            await message.ack()
            moved += 1
    finally:
        await channel.close()  # anything still unsettled goes back to parked
        await publisher.close()
    return moved


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared.messaging.redrive", description="List or re-drive parked messages."
    )
    parser.add_argument("--service", required=True, help="the consuming service, e.g. orders")
    parser.add_argument("--namespace", default=os.environ.get("AMQP_NAMESPACE", ""))
    parser.add_argument("--amqp-url", default=os.environ.get("AMQP_URL"))
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print one line per parked message")
    move = commands.add_parser("redrive", help="move parked messages back to the work queue")
    which = move.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every parked message")
    which.add_argument("--id", action="append", dest="ids", metavar="MESSAGE_ID")
    return parser


async def _run(args: argparse.Namespace) -> int:
    topology = Topology(namespace=args.namespace)
    connection = await aio_pika.connect(
        args.amqp_url, client_properties={"connection_name": f"redrive-{args.service}"}
    )
    try:
        if args.command == "list":
            parked = await list_parked(connection, topology, args.service)
            for message in parked:
                print(message.line())
            print(
                f"{len(parked)} parked message(s) in {topology.queue_names(args.service).parked}",
                file=sys.stderr,
            )
            return 0
        ids = None if args.all else set(args.ids)
        moved = await redrive(connection, topology, args.service, message_ids=ids)
        print(f"re-drove {moved} message(s) to {topology.queue_names(args.service).main}")
        if ids is not None and moved < len(ids):
            print(f"{len(ids) - moved} id(s) not found in the parked queue", file=sys.stderr)
            return 1
        return 0
    finally:
        await connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    if not args.amqp_url:
        print("AMQP_URL must be defined (or pass --amqp-url)", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(args))
    except ChannelNotFoundEntity as exc:
        print(f"{exc} (has the service ever started in this namespace?)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
