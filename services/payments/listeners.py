"""What payments listens to: orders being created and cancelled."""

from __future__ import annotations

from services.payments import service
from shared.events import OrderCancelled, OrderCreated
from shared.messaging import Delivery, Subscription


def subscriptions(
    deps: service.Deps,
) -> list[Subscription[OrderCreated] | Subscription[OrderCancelled]]:
    async def on_order_created(event: OrderCreated, delivery: Delivery) -> None:
        """A new order to take payment for. Replay-safe (a known order is kept)."""
        await service.replicate_order(event, deps=deps)

    async def on_order_cancelled(event: OrderCancelled, delivery: Delivery) -> None:
        """The order can no longer be paid. Replay-safe (version-checked)."""
        await service.cancel_order(event, deps=deps)

    return [
        Subscription(OrderCreated, on_order_created),
        Subscription(OrderCancelled, on_order_cancelled),
    ]
