"""What tickets listens to: orders reserving and releasing tickets."""

from __future__ import annotations

from services.tickets import service
from shared.events import OrderCancelled, OrderCreated
from shared.messaging import Delivery, Subscription


def subscriptions(
    deps: service.Deps,
) -> list[Subscription[OrderCreated] | Subscription[OrderCancelled]]:
    async def on_order_created(event: OrderCreated, delivery: Delivery) -> None:
        """An order holds the ticket now. Replay-safe (inbox + same-order check)."""
        await service.reserve_for_order(event, delivery.message_id, deps=deps)

    async def on_order_cancelled(event: OrderCancelled, delivery: Delivery) -> None:
        """The order let go of the ticket. Replay-safe; stale cancels are ignored."""
        await service.release_for_order(event, delivery.message_id, deps=deps)

    return [
        Subscription(OrderCreated, on_order_created),
        Subscription(OrderCancelled, on_order_cancelled),
    ]
