"""What the expiration listener hears: new orders, whose holds it times.

The listener is a plain function of the event, its delivery and the use cases'
dependencies; ``subscriptions`` only binds ``deps``.
"""

from __future__ import annotations

from functools import partial

from services.expiration import service
from shared.events import OrderCreated
from shared.messaging import Delivery, Subscription


async def on_order_created(
    event: OrderCreated, delivery: Delivery, *, deps: service.ListenerDeps
) -> None:
    """Schedule the order's expiry. Replay-safe without an inbox: the job id is the
    order's, so a repeat (any message id) finds the job taken and enqueues nothing."""
    await service.schedule_expiry(event, deps=deps)


def subscriptions(deps: service.ListenerDeps) -> list[Subscription[OrderCreated]]:
    return [Subscription(OrderCreated, partial(on_order_created, deps=deps))]
