"""orders' use cases on the in-memory twins: builders for the unit and handed-in-deps tests."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bson import ObjectId

from services.orders import service
from services.orders.adapters.memory import InMemoryOrderQueries, InMemoryUnitOfWork
from services.orders.service import Deps
from shared.events import Event, TicketCreated

HOLD_S = 900
START = datetime(2026, 1, 16, 16, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Twins:
    uow: InMemoryUnitOfWork
    clock: Clock
    deps: Deps

    @property
    def published(self) -> list[Event]:
        return self.uow.published

    def routing_keys(self) -> list[str]:
        return [event.routing_key for event in self.uow.published]

    def with_deps(self, **changes: object) -> Twins:
        return replace(self, deps=replace(self.deps, **changes))  # type: ignore[arg-type]


def twins(max_open_per_user: int = 5) -> Twins:
    uow = InMemoryUnitOfWork()
    clock = Clock()
    deps = Deps(
        uow=uow,
        orders=InMemoryOrderQueries(uow),
        hold_s=HOLD_S,
        max_open_per_user=max_open_per_user,
        clock=clock,
    )
    return Twins(uow, clock, deps)


def ticket_created(price_cents: int = 2000, seller_id: str | None = None) -> TicketCreated:
    return TicketCreated(
        id=str(ObjectId()),
        version=0,
        title="concert",
        price_cents=price_cents,
        user_id=seller_id or str(ObjectId()),
    )


async def a_ticket(t: Twins, price_cents: int = 2000, seller_id: str | None = None) -> str:
    """A ticket in the replica, as if ``ticket.created`` had arrived; its id."""
    event = ticket_created(price_cents, seller_id)
    await service.replicate_ticket(event, deps=t.deps)
    return event.id
