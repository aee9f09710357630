"""One contract for payments' storage ports, run against the Mongo adapters (on mongoeco)
and against the in-memory twins the unit tests use: the replica's version rule, the
``paid_by`` write-lock, one record per intent, one kept payment per order, an idempotency
key used once, and nothing kept of a transaction that failed or claimed a duplicate."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from services.payments.adapters.memory import (
    InMemoryOrderReplica,
    InMemoryPaymentRepository,
    InMemoryUnitOfWork,
    State,
)
from services.payments.adapters.orders import MongoOrderReplica
from services.payments.adapters.payments import MongoPaymentRepository
from services.payments.adapters.uow import MongoUnitOfWork
from services.payments.bootstrap import create_indexes
from services.payments.domain import Order, Payment, PaymentStatus, Unpayable
from services.payments.ports import OrderReplica, PaymentRepository, Transaction, UnitOfWork
from shared.errors import Conflict
from shared.events import OrderStatus
from shared.idempotency import IdempotencyKey, IdempotencyKeyReused
from shared.messaging import Inbox, Outbox
from shared.messaging import UnitOfWork as SharedUnitOfWork
from shared.mongo import Mongo

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


@dataclass
class Ports:
    """A unit of work and the unbound reads, of one implementation."""

    uow: UnitOfWork
    orders: OrderReplica
    payments: PaymentRepository


# Both kinds take the mongo fixture: an async fixture cannot ask for another by name.
@pytest.fixture(params=["memory", "mongo"])
async def ports(request: pytest.FixtureRequest, mongo: Mongo) -> AsyncIterator[Ports]:
    if request.param == "memory":
        state = State()
        uow = InMemoryUnitOfWork(state)
        yield Ports(uow, InMemoryOrderReplica(state), InMemoryPaymentRepository(state))
        return
    await create_indexes(mongo.db)
    inbox = Inbox(mongo.db, "payments")
    await inbox.ensure_indexes()
    shared = SharedUnitOfWork(mongo, Outbox(mongo.db, exclusive=mongo.exclusive), inbox=inbox)
    yield Ports(
        MongoUnitOfWork(shared, mongo.db),
        MongoOrderReplica(mongo.db),
        MongoPaymentRepository(mongo.db),
    )


def an_order(version: int = 0) -> Order:
    return Order(
        id=str(ObjectId()),
        user_id=str(ObjectId()),
        price_cents=2000,
        status=OrderStatus.CREATED,
        version=version,
        expires_at=NOW + timedelta(minutes=15),
    )


def a_payment(order_id: str, stripe_id: str | None = None) -> Payment:
    return Payment(
        id=str(ObjectId()),
        order_id=order_id,
        stripe_id=stripe_id or f"pi_{ObjectId()}",
        amount_cents=2000,
    )


async def with_order(ports: Ports, order: Order) -> Order:
    async with ports.uow() as tx:
        assert await tx.orders.add_if_absent(order)
    return order


async def with_payment(ports: Ports, payment: Payment) -> Payment:
    async with ports.uow() as tx:
        await tx.payments.add(payment)
    return payment


# ------------------------------------------------------------------ the order replica


async def test_a_replica_is_added_once_and_a_second_add_changes_nothing(ports: Ports) -> None:
    order = await with_order(ports, an_order())

    async with ports.uow() as tx:
        added = await tx.orders.add_if_absent(replace(order, price_cents=1))

    assert added is False
    assert await ports.orders.get(order.id) == order


async def test_an_unknown_order_is_none(ports: Ports) -> None:
    assert await ports.orders.get(str(ObjectId())) is None


async def test_only_the_next_version_is_saved(ports: Ports) -> None:
    order = await with_order(ports, an_order(version=3))
    cancelled = order.cancelled()

    async with ports.uow() as tx:
        await tx.orders.save(cancelled)
    with pytest.raises(Conflict):
        async with ports.uow() as tx:
            await tx.orders.save(cancelled)  # v4 again: the replica is at v4 now

    assert await ports.orders.get(order.id) == cancelled


async def test_saving_an_order_never_replicated_is_a_conflict(ports: Ports) -> None:
    with pytest.raises(Conflict):
        async with ports.uow() as tx:
            await tx.orders.save(an_order(version=1))


async def test_an_order_keeps_one_payment_and_a_new_version_keeps_it_too(ports: Ports) -> None:
    order = await with_order(ports, an_order())

    async with ports.uow() as tx:
        await tx.orders.keep_payment(order.paid_with("p1"))
    with pytest.raises(Conflict):
        async with ports.uow() as tx:
            await tx.orders.keep_payment(order.paid_with("p2"))
    async with ports.uow() as tx:
        await tx.orders.save(order.cancelled())  # the cancellation does not clear paid_by

    assert await ports.orders.get(order.id) == replace(order.cancelled(), paid_by="p1")


async def test_keeping_a_payment_on_a_version_that_moved_on_is_a_conflict(ports: Ports) -> None:
    order = await with_order(ports, an_order())
    async with ports.uow() as tx:
        await tx.orders.save(order.cancelled())

    with pytest.raises(Conflict):
        async with ports.uow() as tx:
            await tx.orders.keep_payment(order.paid_with("p1"))

    found = await ports.orders.get(order.id)
    assert found is not None
    assert found.paid_by is None


# ------------------------------------------------------------------ payments


async def test_a_snapshot_replaces_the_owners_fields_over_the_version_held(ports: Ports) -> None:
    order = await with_order(ports, an_order())
    async with ports.uow() as tx:
        await tx.orders.keep_payment(order.paid_with("p1"))
    completed = replace(order, version=3, status=OrderStatus.COMPLETE)
    async with ports.uow() as tx:
        assert not await tx.orders.take_snapshot(completed, over=2)
        # Whatever paid_by the snapshot's order has, the one kept stays.
        assert await tx.orders.take_snapshot(replace(completed, paid_by=None), over=0)

    assert await ports.orders.get(order.id) == replace(completed, paid_by="p1")


async def test_a_new_replica_keeps_the_payment_it_is_given(ports: Ports) -> None:
    # After a rebuild dropped the replica: the use case says what our records say it keeps.
    order = replace(an_order(version=1), status=OrderStatus.COMPLETE, paid_by="p1")
    async with ports.uow() as tx:
        assert await tx.orders.add_if_absent(order)

    assert await ports.orders.get(order.id) == order


async def test_a_payment_intent_is_recorded_once(ports: Ports) -> None:
    first = await with_payment(ports, a_payment(str(ObjectId())))
    again = a_payment(str(ObjectId()), stripe_id=first.stripe_id)

    with pytest.raises(Conflict):
        await with_payment(ports, again)

    assert await ports.payments.for_intent(first.stripe_id) == first


async def test_an_order_keeps_one_payment_but_may_give_back_others(ports: Ports) -> None:
    order_id = str(ObjectId())
    kept = await with_payment(ports, a_payment(order_id))
    given_back = a_payment(order_id).to_refund(Unpayable.ALREADY_PAID, NOW)

    await with_payment(ports, given_back)
    with pytest.raises(Conflict):
        await with_payment(ports, a_payment(order_id))

    assert await ports.payments.kept_for(order_id) == kept
    assert await ports.payments.of_order(order_id) == [kept, given_back]


async def test_a_payment_is_saved_only_from_the_status_it_was_read_in(ports: Ports) -> None:
    kept = await with_payment(ports, a_payment(str(ObjectId())))
    refunding = kept.to_refund(Unpayable.CANCELLED, NOW)

    async with ports.uow() as tx:
        await tx.payments.save(refunding, was=PaymentStatus.SUCCEEDED)
    with pytest.raises(Conflict):
        async with ports.uow() as tx:
            await tx.payments.save(refunding.refunded_by("re_1"), was=PaymentStatus.SUCCEEDED)

    assert await ports.payments.for_intent(kept.stripe_id) == refunding
    assert await ports.payments.kept_for(kept.order_id) is None


async def test_refunds_due_are_the_due_refunding_ones_longest_waiting_first(ports: Ports) -> None:
    order_id = str(ObjectId())
    late = await with_payment(ports, a_payment(order_id).to_refund(Unpayable.CANCELLED, NOW))
    early = a_payment(order_id).to_refund(Unpayable.CANCELLED, NOW - timedelta(minutes=1))
    await with_payment(ports, early)
    await with_payment(
        ports, a_payment(order_id).to_refund(Unpayable.CANCELLED, NOW).refund_failed(NOW)
    )
    await with_payment(
        ports, a_payment(order_id).to_refund(Unpayable.CANCELLED, NOW).refunded_by("r")
    )

    assert await ports.payments.refunds_due(NOW, limit=10) == [early, late]
    assert await ports.payments.refunds_due(NOW, limit=1) == [early]


# ------------------------------------------------------------------ idempotency, transactions


async def test_a_kept_payment_is_recalled_under_its_key_and_only_for_the_same_request(
    ports: Ports,
) -> None:
    key = IdempotencyKey(scope=f"{ObjectId()} POST /api/payments", key="k1", fingerprint="f1")
    payment = a_payment(str(ObjectId()))

    async with ports.uow() as tx:
        assert await tx.kept.recall(key) is None
        await tx.kept.remember(key, payment)
    async with ports.uow() as tx:
        recalled = await tx.kept.recall(key)
    with pytest.raises(IdempotencyKeyReused):
        async with ports.uow() as tx:
            await tx.kept.recall(replace(key, fingerprint="f2"))
    with pytest.raises(Conflict):
        async with ports.uow() as tx:
            await tx.kept.remember(key, payment)

    assert recalled == payment


async def test_nothing_of_a_failed_transaction_is_kept(ports: Ports) -> None:
    order = an_order()
    payment = a_payment(order.id)

    async def twice(tx: Transaction) -> None:
        await tx.orders.add_if_absent(order)
        await tx.payments.add(payment)
        await tx.payments.add(payment)  # the same intent again

    with pytest.raises(Conflict):
        async with ports.uow() as tx:
            await twice(tx)

    assert await ports.orders.get(order.id) is None
    assert await ports.payments.for_intent(payment.stripe_id) is None


async def test_a_claimed_message_is_claimed_once_and_its_duplicate_commits_nothing(
    ports: Ports,
) -> None:
    order = an_order()
    async with ports.uow() as tx:
        assert await tx.claim("stripe:evt_1")

    async with ports.uow() as tx:
        claimed = await tx.claim("stripe:evt_1")
        if claimed:
            await tx.orders.add_if_absent(order)

    assert claimed is False
    assert await ports.orders.get(order.id) is None


async def test_run_re_runs_the_work_from_the_start_after_a_conflict(ports: Ports) -> None:
    order = await with_order(ports, an_order())
    attempts = 0

    async def cancel(tx: Transaction) -> None:
        nonlocal attempts
        attempts += 1
        # Saved again on the second attempt: only if the first one's save was dropped.
        await tx.orders.save(order.cancelled())
        if attempts == 1:
            raise Conflict("a racer committed first")

    await ports.uow.run(cancel)

    assert attempts == 2
    assert await ports.orders.get(order.id) == order.cancelled()
