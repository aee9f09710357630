"""What orders listens to: the ticket replica's updates, expiries and payments.

Each listener is a plain function of the event, its delivery and the use cases'
dependencies; ``subscriptions`` only binds ``deps``. None needs the delivery: each is
replay-safe by the versions and statuses it checks, not by an inbox.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from services.orders import service
from shared.events import ExpirationComplete, PaymentCreated, TicketCreated, TicketUpdated
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


def subscriptions(deps: service.Deps) -> list[Subscription[Any]]:
    return [
        Subscription(TicketCreated, partial(on_ticket_created, deps=deps)),
        Subscription(TicketUpdated, partial(on_ticket_updated, deps=deps)),
        Subscription(ExpirationComplete, partial(on_expiration_complete, deps=deps)),
        Subscription(PaymentCreated, partial(on_payment_created, deps=deps)),
    ]
