"""What tickets listens to: orders reserving and releasing tickets, and a replica's
rebuild asking for every ticket.

Each listener is a plain function of the event, its delivery and the use cases'
dependencies; ``subscriptions`` only binds ``deps``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from services.tickets import service
from shared.events import OrderCancelled, OrderCreated, SnapshotRequested
from shared.messaging import Delivery, Subscription


async def on_order_created(event: OrderCreated, delivery: Delivery, *, deps: service.Deps) -> None:
    """An order holds the ticket now. Replay-safe (inbox + same-order check)."""
    await service.apply_order_created(event, delivery.message_id, deps=deps)


async def on_order_cancelled(
    event: OrderCancelled, delivery: Delivery, *, deps: service.Deps
) -> None:
    """The order let go of the ticket. Replay-safe; stale cancels are ignored."""
    await service.apply_order_cancelled(event, delivery.message_id, deps=deps)


async def on_snapshot_requested(
    event: SnapshotRequested, delivery: Delivery, *, deps: service.Deps
) -> None:
    """A replica of our tickets is rebuilt. Replay-safe: the snapshots go out again."""
    await service.publish_ticket_snapshots(event, deps=deps)


def subscriptions(deps: service.Deps) -> list[Subscription[Any]]:
    return [
        Subscription(OrderCreated, partial(on_order_created, deps=deps)),
        Subscription(OrderCancelled, partial(on_order_cancelled, deps=deps)),
        Subscription(SnapshotRequested, partial(on_snapshot_requested, deps=deps)),
    ]
