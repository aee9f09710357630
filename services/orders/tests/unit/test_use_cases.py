"""orders' use cases on the in-memory twins: the rules, in milliseconds. The same flows run
on real RabbitMQ and mongoeco in tests/api and tests/listeners."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import pytest
from bson import ObjectId

from services.orders import service
from services.orders.adapters.memory import InMemoryOrderQueries, InMemoryUnitOfWork
from services.orders.domain import (
    CannotOrderOwnTicket,
    PaidOrderCannotBeCancelled,
    TicketAlreadyReserved,
    TooManyOpenOrders,
)
from services.orders.service import PlaceOrder
from services.orders.tests.unit.twins import HOLD_S, START, Twins, a_ticket, ticket_created, twins
from shared.errors import Conflict, NotAuthorized, NotFound
from shared.events import OrderCreated, OrderStatus, TicketUpdated
from shared.idempotency import IdempotencyKey, IdempotencyKeyReused, fingerprint
from shared.messaging import RetryLater


@pytest.fixture
def t() -> Twins:
    return twins()


def key(command: PlaceOrder, name: str = "k1") -> IdempotencyKey:
    return IdempotencyKey(
        scope="buyer POST /api/orders", key=name, fingerprint=fingerprint(command)
    )


async def replica_version(t: Twins, ticket_id: str) -> int | None:
    async with t.uow() as tx:
        ticket = await tx.tickets.get(ticket_id)
    return None if ticket is None else ticket.version


async def test_placing_an_order_holds_the_ticket_for_the_hold_and_announces_it(t: Twins) -> None:
    ticket_id = await a_ticket(t, price_cents=1250)

    order = await service.place_order(PlaceOrder(ticket_id), "buyer", deps=t.deps)

    assert (order.status, order.user_id, order.ticket.id) == (
        OrderStatus.CREATED,
        "buyer",
        ticket_id,
    )
    assert (order.expires_at - START).total_seconds() == HOLD_S
    assert t.published == [order.created_event()]
    assert isinstance(t.published[0], OrderCreated)
    assert t.published[0].ticket.price_cents == 1250
    assert await service.show_order(order.id, "buyer", deps=t.deps) == order


async def test_a_held_ticket_cannot_be_ordered_again(t: Twins) -> None:
    ticket_id = await a_ticket(t)
    await service.place_order(PlaceOrder(ticket_id), "buyer", deps=t.deps)

    with pytest.raises(TicketAlreadyReserved):
        await service.place_order(PlaceOrder(ticket_id), "another buyer", deps=t.deps)
    assert t.routing_keys() == ["order.created"]


class CommitsThenReportsAConflict(InMemoryUnitOfWork):
    """Its first transaction commits, but the commit's answer says it did not: a lost reply
    (mongod's UnknownTransactionCommitResult), which the unit of work re-runs."""

    def __init__(self) -> None:
        super().__init__()
        self.lost_replies = 0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Any]:
        async with super().__call__() as tx:
            yield tx
        if self.lost_replies == 0:
            self.lost_replies += 1
            raise Conflict()


async def test_a_reservation_whose_commit_answer_was_lost_is_not_refused_on_its_retry() -> None:
    uow = CommitsThenReportsAConflict()
    t = twins()
    t = Twins(uow, t.clock, replace(t.deps, uow=uow, orders=InMemoryOrderQueries(uow)))
    ticket_id = await a_ticket(t)
    uow.lost_replies = 0  # the ticket's replica is in; the order's commit is the one lost

    order = await service.place_order(PlaceOrder(ticket_id), "buyer", deps=t.deps)

    assert uow.lost_replies == 1
    assert await service.show_order(order.id, "buyer", deps=t.deps) == order
    assert await service.list_orders("buyer", deps=t.deps) == [order]
    assert t.routing_keys() == ["order.created"]  # announced once, by the commit that held


class NoTransactions:
    """A unit of work that must not be used."""

    def __call__(self) -> Any:
        raise AssertionError("a transaction was opened")

    async def run(self, work: Any) -> Any:
        raise AssertionError("a transaction was opened")


async def test_a_held_ticket_refuses_the_next_buyers_without_a_transaction(t: Twins) -> None:
    # An on-sale crowd's losers must not queue for a transaction only to be refused.
    ticket_id = await a_ticket(t, seller_id="seller")
    await service.place_order(PlaceOrder(ticket_id), "buyer", deps=t.deps)
    reading_only = replace(t.deps, uow=NoTransactions())

    with pytest.raises(TicketAlreadyReserved):
        await service.place_order(PlaceOrder(ticket_id), "another buyer", deps=reading_only)
    # The seller still hears why they cannot have it.
    with pytest.raises(CannotOrderOwnTicket):
        await service.place_order(PlaceOrder(ticket_id), "seller", deps=reading_only)


async def test_an_unknown_ticket_is_not_found(t: Twins) -> None:
    with pytest.raises(NotFound):
        await service.place_order(PlaceOrder(str(ObjectId())), "buyer", deps=t.deps)


async def test_a_seller_cannot_order_their_own_ticket(t: Twins) -> None:
    ticket_id = await a_ticket(t, seller_id="seller")

    with pytest.raises(CannotOrderOwnTicket):
        await service.place_order(PlaceOrder(ticket_id), "seller", deps=t.deps)
    assert await service.list_orders("seller", deps=t.deps) == []


async def test_a_buyer_holds_at_most_the_open_orders_allowed_and_a_cancel_frees_one() -> None:
    t = twins(max_open_per_user=2)
    first, _ = [
        await service.place_order(PlaceOrder(await a_ticket(t)), "buyer", deps=t.deps)
        for _ in range(2)
    ]
    third_ticket = await a_ticket(t)

    with pytest.raises(TooManyOpenOrders):
        await service.place_order(PlaceOrder(third_ticket), "buyer", deps=t.deps)
    await service.cancel_order(first.id, "buyer", deps=t.deps)
    third = await service.place_order(PlaceOrder(third_ticket), "buyer", deps=t.deps)

    assert third.status is OrderStatus.CREATED


async def test_a_repeated_idempotency_key_returns_the_first_order_and_reserves_nothing(
    t: Twins,
) -> None:
    command = PlaceOrder(await a_ticket(t))

    first = await service.place_order(command, "buyer", idempotency=key(command), deps=t.deps)
    again = await service.place_order(command, "buyer", idempotency=key(command), deps=t.deps)

    assert again == first
    assert t.routing_keys() == ["order.created"]
    assert await service.list_orders("buyer", deps=t.deps) == [first]


async def test_an_idempotency_key_reused_for_another_ticket_is_refused(t: Twins) -> None:
    command = PlaceOrder(await a_ticket(t))
    await service.place_order(command, "buyer", idempotency=key(command), deps=t.deps)
    other = PlaceOrder(await a_ticket(t))

    with pytest.raises(IdempotencyKeyReused):
        await service.place_order(other, "buyer", idempotency=key(other), deps=t.deps)


async def test_a_refused_order_under_a_key_is_not_remembered(t: Twins) -> None:
    created = ticket_created()
    command = PlaceOrder(created.id)
    with pytest.raises(NotFound):
        await service.place_order(command, "buyer", idempotency=key(command), deps=t.deps)
    await service.replicate_ticket(created, deps=t.deps)

    order = await service.place_order(command, "buyer", idempotency=key(command), deps=t.deps)

    assert order.status is OrderStatus.CREATED


async def test_cancelling_frees_the_ticket_and_announces_it_once(t: Twins) -> None:
    ticket_id = await a_ticket(t)
    order = await service.place_order(PlaceOrder(ticket_id), "buyer", deps=t.deps)

    cancelled = await service.cancel_order(order.id, "buyer", deps=t.deps)
    again = await service.cancel_order(order.id, "buyer", deps=t.deps)
    await service.place_order(PlaceOrder(ticket_id), "another buyer", deps=t.deps)

    assert (cancelled.status, cancelled.version) == (OrderStatus.CANCELLED, 1)
    assert again == cancelled
    assert t.routing_keys() == ["order.created", "order.cancelled", "order.created"]


async def test_only_the_buyer_may_see_or_cancel_an_order(t: Twins) -> None:
    order = await service.place_order(PlaceOrder(await a_ticket(t)), "buyer", deps=t.deps)

    with pytest.raises(NotAuthorized):
        await service.show_order(order.id, "someone else", deps=t.deps)
    with pytest.raises(NotAuthorized):
        await service.cancel_order(order.id, "someone else", deps=t.deps)
    with pytest.raises(NotFound):
        await service.cancel_order(str(ObjectId()), "buyer", deps=t.deps)
    assert (await service.show_order(order.id, "buyer", deps=t.deps)).status is OrderStatus.CREATED


async def test_a_paid_order_cannot_be_cancelled_nor_expire(t: Twins) -> None:
    order = await service.place_order(PlaceOrder(await a_ticket(t)), "buyer", deps=t.deps)
    await service.complete_order(order.id, deps=t.deps)
    await service.complete_order(order.id, deps=t.deps)  # a repeat changes nothing

    with pytest.raises(PaidOrderCannotBeCancelled):
        await service.cancel_order(order.id, "buyer", deps=t.deps)
    await service.expire_order(order.id, deps=t.deps)

    paid = await service.show_order(order.id, "buyer", deps=t.deps)
    assert (paid.status, paid.version) == (OrderStatus.COMPLETE, 1)
    assert t.routing_keys() == ["order.created"]


async def test_an_expired_order_is_cancelled_once(t: Twins) -> None:
    order = await service.place_order(PlaceOrder(await a_ticket(t)), "buyer", deps=t.deps)

    await service.expire_order(order.id, deps=t.deps)
    await service.expire_order(order.id, deps=t.deps)

    assert (await service.show_order(order.id, "buyer", deps=t.deps)).status is (
        OrderStatus.CANCELLED
    )
    assert t.routing_keys() == ["order.created", "order.cancelled"]


async def test_a_payment_for_a_cancelled_order_does_not_complete_it(t: Twins) -> None:
    order = await service.place_order(PlaceOrder(await a_ticket(t)), "buyer", deps=t.deps)
    await service.cancel_order(order.id, "buyer", deps=t.deps)

    await service.complete_order(order.id, deps=t.deps)

    assert (await service.show_order(order.id, "buyer", deps=t.deps)).status is (
        OrderStatus.CANCELLED
    )


async def test_an_expiry_or_payment_for_an_unknown_order_is_retried_later(t: Twins) -> None:
    with pytest.raises(RetryLater):
        await service.expire_order(str(ObjectId()), deps=t.deps)
    with pytest.raises(RetryLater):
        await service.complete_order(str(ObjectId()), deps=t.deps)


async def test_the_sweep_cancels_only_orders_overdue_beyond_the_grace(t: Twins) -> None:
    overdue = await service.place_order(PlaceOrder(await a_ticket(t)), "buyer", deps=t.deps)
    paid = await service.place_order(PlaceOrder(await a_ticket(t)), "buyer", deps=t.deps)
    await service.complete_order(paid.id, deps=t.deps)
    t.clock.advance(HOLD_S / 2)
    fresh = await service.place_order(PlaceOrder(await a_ticket(t)), "buyer", deps=t.deps)
    t.clock.advance(HOLD_S / 2 + 30)

    assert await service.cancel_overdue(deps=t.deps, grace_s=60) == 0
    assert await service.cancel_overdue(deps=t.deps, grace_s=20) == 1

    statuses = {o.id: o.status for o in await service.list_orders("buyer", deps=t.deps)}
    assert statuses == {
        overdue.id: OrderStatus.CANCELLED,
        paid.id: OrderStatus.COMPLETE,
        fresh.id: OrderStatus.CREATED,
    }


async def test_a_users_orders_come_oldest_first_whatever_their_status(t: Twins) -> None:
    first = await service.place_order(PlaceOrder(await a_ticket(t)), "buyer", deps=t.deps)
    second = await service.place_order(PlaceOrder(await a_ticket(t)), "buyer", deps=t.deps)
    await service.cancel_order(first.id, "buyer", deps=t.deps)

    orders = await service.list_orders("buyer", deps=t.deps)

    assert [(o.id, o.status) for o in orders] == [
        (first.id, OrderStatus.CANCELLED),
        (second.id, OrderStatus.CREATED),
    ]


def updated(created_id: str, version: int, price_cents: int) -> TicketUpdated:
    return TicketUpdated(
        id=created_id, version=version, title="concert", price_cents=price_cents, user_id="s"
    )


async def test_the_replica_applies_the_next_version_and_ignores_seen_ones(t: Twins) -> None:
    created = ticket_created(price_cents=500)
    await service.replicate_ticket(created, deps=t.deps)
    await service.replicate_ticket(created, deps=t.deps)  # a duplicate changes nothing

    await service.apply_ticket_version(updated(created.id, 1, 1000), deps=t.deps)
    await service.apply_ticket_version(updated(created.id, 1, 1), deps=t.deps)  # seen

    async with t.uow() as tx:
        ticket = await tx.tickets.get(created.id)
    assert ticket is not None
    assert (ticket.version, ticket.price_cents) == (1, 1000)


async def test_an_early_version_waits_and_nothing_of_it_is_applied(t: Twins) -> None:
    created = ticket_created()

    with pytest.raises(RetryLater):
        await service.apply_ticket_version(updated(created.id, 1, 1000), deps=t.deps)
    await service.replicate_ticket(created, deps=t.deps)
    with pytest.raises(RetryLater):
        await service.apply_ticket_version(updated(created.id, 2, 1500), deps=t.deps)

    assert await replica_version(t, created.id) == 0


async def test_an_order_shows_its_ticket_as_the_replica_has_it_now(t: Twins) -> None:
    created = ticket_created(price_cents=500)
    await service.replicate_ticket(created, deps=t.deps)
    order = await service.place_order(PlaceOrder(created.id), "buyer", deps=t.deps)

    await service.apply_ticket_version(updated(created.id, 1, 700), deps=t.deps)

    shown = await service.show_order(order.id, "buyer", deps=t.deps)
    assert (shown.ticket.version, shown.ticket.price_cents) == (1, 700)
