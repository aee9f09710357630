"""What payments listens to: orders being created and cancelled, into its order replica."""

from __future__ import annotations

from functools import partial

from services.payments import service
from shared.events import OrderCancelled, OrderCreated
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


def subscriptions(
    deps: service.Deps,
) -> list[Subscription[OrderCreated] | Subscription[OrderCancelled]]:
    """The listeners above, bound to ``deps`` (bootstrap starts consuming them)."""
    return [
        Subscription(OrderCreated, partial(on_order_created, deps=deps)),
        Subscription(OrderCancelled, partial(on_order_cancelled, deps=deps)),
    ]
