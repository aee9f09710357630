"""What the expiration listener hears: new orders, whose holds it times."""

from __future__ import annotations

from services.expiration import service
from shared.events import OrderCreated
from shared.messaging import Delivery, Subscription


def subscriptions(deps: service.ListenerDeps) -> list[Subscription[OrderCreated]]:
    async def on_order_created(event: OrderCreated, delivery: Delivery) -> None:
        """Schedule the order's expiry. Replay-safe: the job id is the order's."""
        await service.schedule_expiry(event, deps=deps)

    return [Subscription(OrderCreated, on_order_created)]
