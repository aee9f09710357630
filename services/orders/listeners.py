"""What orders listens to: the ticket replica's updates, expiries and payments, and the
snapshots of a rebuild (its ticket replica's, and payments' asking for orders').

Each listener is a plain function of the event, its delivery and the use cases'
dependencies; ``subscriptions`` only binds ``deps``. None needs the delivery: each is
replay-safe by the versions and statuses it checks, not by an inbox.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from services.orders import service
from shared.events import (
    ExpirationComplete,
    PaymentCreated,
    SnapshotCompleted,
    SnapshotRequested,
    TicketCreated,
    TicketSnapshot,
    TicketUpdated,
)
from shared.messaging import Delivery, Subscription


async def on_ticket_created(
    event: TicketCreated, delivery: Delivery, *, deps: service.Deps
) -> None:
    """A new ticket to replicate. Replay-safe (insert only if absent)."""
    await service.replicate_ticket(event, deps=deps)


async def on_ticket_updated(
    event: TicketUpdated, delivery: Delivery, *, deps: service.Deps
) -> None:
    """The ticket's next version. Replay-safe; early versions are retried later."""
    await service.apply_ticket_version(event, deps=deps)


async def on_expiration_complete(
    event: ExpirationComplete, delivery: Delivery, *, deps: service.Deps
) -> None:
    """The hold ran out. Replay-safe: a settled order is left alone."""
    await service.expire_order(event.order_id, deps=deps)


async def on_payment_created(
    event: PaymentCreated, delivery: Delivery, *, deps: service.Deps
) -> None:
    """The order was paid. Replay-safe: completing twice changes nothing."""
    await service.complete_order(event.order_id, deps=deps)


async def on_ticket_snapshot(
    event: TicketSnapshot, delivery: Delivery, *, deps: service.Deps
) -> None:
    """A ticket's whole state, for a rebuild. Replay-safe: taken only when newer."""
    await service.apply_ticket_snapshot(event, deps=deps)


async def on_snapshot_requested(
    event: SnapshotRequested, delivery: Delivery, *, deps: service.Deps
) -> None:
    """Another service rebuilds its replica of our orders. Replay-safe: snapshots again."""
    await service.publish_order_snapshots(event, deps=deps)


async def on_snapshot_completed(
    event: SnapshotCompleted, delivery: Delivery, *, deps: service.Deps
) -> None:
    """An owner published all its snapshots for a rebuild. Replay-safe (a set, not a sum)."""
    await service.note_snapshots_completed(event, deps=deps)


def subscriptions(deps: service.Deps) -> list[Subscription[Any]]:
    return [
        Subscription(TicketCreated, partial(on_ticket_created, deps=deps)),
        Subscription(TicketUpdated, partial(on_ticket_updated, deps=deps)),
        Subscription(TicketSnapshot, partial(on_ticket_snapshot, deps=deps)),
        Subscription(SnapshotRequested, partial(on_snapshot_requested, deps=deps)),
        Subscription(SnapshotCompleted, partial(on_snapshot_completed, deps=deps)),
        Subscription(ExpirationComplete, partial(on_expiration_complete, deps=deps)),
        Subscription(PaymentCreated, partial(on_payment_created, deps=deps)),
    ]
