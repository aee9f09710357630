"""What payments listens to: orders being created and cancelled, into its order replica, and
the snapshots of orders when that replica is rebuilt."""

from __future__ import annotations

from functools import partial
from typing import Any

from services.payments import service
from shared.events import OrderCancelled, OrderCreated, OrderSnapshot, SnapshotCompleted
from shared.messaging import Delivery, Subscription


async def on_order_created(event: OrderCreated, delivery: Delivery, *, deps: service.Deps) -> None:
    """A new order to take payment for. Replay-safe (a known order is kept)."""
    await service.replicate_order(event, deps=deps)


async def on_order_cancelled(
    event: OrderCancelled, delivery: Delivery, *, deps: service.Deps
) -> None:
    """The order can no longer be paid. Replay-safe (version-checked); an early version is
    retried later (``RetryLater``) until the versions before it have arrived."""
    await service.apply_order_cancellation(event, deps=deps)


async def on_order_snapshot(
    event: OrderSnapshot, delivery: Delivery, *, deps: service.Deps
) -> None:
    """An order's whole state, for a rebuild. Replay-safe: taken only when newer."""
    await service.apply_order_snapshot(event, deps=deps)


async def on_snapshot_completed(
    event: SnapshotCompleted, delivery: Delivery, *, deps: service.Deps
) -> None:
    """An owner published all its snapshots for a rebuild. Replay-safe (a set, not a sum)."""
    await service.note_snapshots_completed(event, deps=deps)


def subscriptions(deps: service.Deps) -> list[Subscription[Any]]:
    """The listeners above, bound to ``deps`` (bootstrap starts consuming them)."""
    return [
        Subscription(OrderCreated, partial(on_order_created, deps=deps)),
        Subscription(OrderCancelled, partial(on_order_cancelled, deps=deps)),
        Subscription(OrderSnapshot, partial(on_order_snapshot, deps=deps)),
        Subscription(SnapshotCompleted, partial(on_snapshot_completed, deps=deps)),
    ]
