"""What orders listens to: the ticket replica's updates, expiries and payments."""

from __future__ import annotations

from typing import Any

from services.orders import service
from shared.events import ExpirationComplete, PaymentCreated, TicketCreated, TicketUpdated
from shared.messaging import Delivery, Subscription


def subscriptions(deps: service.Deps) -> list[Subscription[Any]]:
    async def on_ticket_created(event: TicketCreated, delivery: Delivery) -> None:
        """A new ticket to replicate. Replay-safe (insert only if absent)."""
        await service.replicate_ticket(event, deps=deps)

    async def on_ticket_updated(event: TicketUpdated, delivery: Delivery) -> None:
        """The ticket's next version. Replay-safe; early versions are retried later."""
        await service.apply_ticket_version(event, deps=deps)

    async def on_expiration_complete(event: ExpirationComplete, delivery: Delivery) -> None:
        """The hold ran out. Replay-safe: a settled order is left alone."""
        await service.expire_order(event.order_id, deps=deps)

    async def on_payment_created(event: PaymentCreated, delivery: Delivery) -> None:
        """The order was paid. Replay-safe: completing twice changes nothing."""
        await service.complete_order(event.order_id, deps=deps)

    return [
        Subscription(TicketCreated, on_ticket_created),
        Subscription(TicketUpdated, on_ticket_updated),
        Subscription(ExpirationComplete, on_expiration_complete),
        Subscription(PaymentCreated, on_payment_created),
    ]
