"""payments' order replica and snapshots, on the twins: taken only when newer; the payment an
order keeps is payments' own and no snapshot undoes it; a snapshot that shows the order
cancelled gives a kept payment back; while rebuilding, an unknown order is a 503."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from services.payments import service
from services.payments.domain import PaymentStatus
from services.payments.service import OrderNotReplicatedYet
from services.payments.tests.unit.twins import Twins, order_created, paid, succeeded, twins
from shared.errors import NotFound
from shared.events import OrderCreated, OrderSnapshot, OrderStatus

REQUEST = "0123456789abcdef0123456789abcdef"


@dataclass
class RebuildRecorder:
    """A ``RebuildLog`` that says whether a rebuild runs and records the receipts."""

    rebuilding: bool = False
    receipts: list[tuple[str, str]] = field(default_factory=list)

    async def running(self) -> bool:
        return self.rebuilding

    async def received(self, request_id: str, entity_id: str) -> None:
        self.receipts.append((request_id, entity_id))

    async def completed(self, request_id: str, count: int) -> None:
        return None


@pytest.fixture
def rebuilds() -> RebuildRecorder:
    return RebuildRecorder()


@pytest.fixture
def t(rebuilds: RebuildRecorder) -> Twins:
    made = twins()
    return replace(made, deps=replace(made.deps, rebuilds=rebuilds))


def snapshot_of(created: OrderCreated, version: int, status: OrderStatus) -> OrderSnapshot:
    return OrderSnapshot(
        id=created.id,
        version=version,
        status=status,
        user_id=created.user_id,
        expires_at=created.expires_at,
        ticket=created.ticket,
        request_id=REQUEST,
    )


async def test_a_snapshot_older_than_or_equal_to_the_replica_is_ignored(
    t: Twins, rebuilds: RebuildRecorder
) -> None:
    created = order_created()
    await service.replicate_order(created, deps=t.deps)
    await service.apply_order_snapshot(snapshot_of(created, 1, OrderStatus.COMPLETE), deps=t.deps)

    await service.apply_order_snapshot(snapshot_of(created, 1, OrderStatus.CREATED), deps=t.deps)
    await service.apply_order_snapshot(snapshot_of(created, 0, OrderStatus.CREATED), deps=t.deps)

    order = await t.deps.orders.get(created.id)
    assert order is not None
    assert (order.version, order.status) == (1, OrderStatus.COMPLETE)
    assert rebuilds.receipts == [(REQUEST, created.id)] * 3


async def test_a_newer_snapshot_keeps_the_payment_the_order_keeps(t: Twins) -> None:
    created = order_created()
    await service.replicate_order(created, deps=t.deps)
    payment = await paid(t, created.id, created.user_id)

    # orders completes the order on payment.created (v1) without an event of its own.
    await service.apply_order_snapshot(snapshot_of(created, 1, OrderStatus.COMPLETE), deps=t.deps)

    order = await t.deps.orders.get(created.id)
    assert order is not None
    assert (order.version, order.status, order.paid_by) == (1, OrderStatus.COMPLETE, payment.id)


async def test_an_order_put_back_by_a_snapshot_keeps_the_payment_our_records_say(
    t: Twins,
) -> None:
    created = order_created()
    await service.replicate_order(created, deps=t.deps)
    payment = await paid(t, created.id, created.user_id)
    t.state.orders.clear()  # a rebuild dropped the replica

    await service.apply_order_snapshot(snapshot_of(created, 1, OrderStatus.COMPLETE), deps=t.deps)

    order = await t.deps.orders.get(created.id)
    assert order is not None
    assert order.paid_by == payment.id
    # Kept: a second charge for it goes back, as for any order paid already.
    another = succeeded(order).intent
    assert another is not None
    second = await service.settle_intent(another, deps=t.deps)
    assert second is not None
    assert second.status is PaymentStatus.REFUNDED


async def test_a_snapshot_showing_the_order_cancelled_gives_a_kept_payment_back(
    t: Twins,
) -> None:
    created = order_created()
    await service.replicate_order(created, deps=t.deps)
    payment = await paid(t, created.id, created.user_id)

    # The cancellation (v1) never reached us; the snapshot jumps to v2 cancelled.
    await service.apply_order_snapshot(snapshot_of(created, 2, OrderStatus.CANCELLED), deps=t.deps)

    refunded = await t.deps.payments.for_intent(payment.stripe_id)
    assert refunded is not None
    assert refunded.status is PaymentStatus.REFUNDED
    order = await t.deps.orders.get(created.id)
    assert order is not None
    assert (order.version, order.status) == (2, OrderStatus.CANCELLED)


async def test_while_rebuilding_an_unknown_order_is_unavailable_not_missing(
    t: Twins, rebuilds: RebuildRecorder
) -> None:
    created = order_created()

    with pytest.raises(NotFound):
        await paid(t, created.id, created.user_id)
    rebuilds.rebuilding = True
    with pytest.raises(OrderNotReplicatedYet):
        await paid(t, created.id, created.user_id)
    with pytest.raises(OrderNotReplicatedYet):
        await service.payments_of_order(created.id, created.user_id, deps=t.deps)


async def test_an_order_replayed_into_a_dropped_replica_keeps_its_payment(t: Twins) -> None:
    created = order_created()
    await service.replicate_order(created, deps=t.deps)
    payment = await paid(t, created.id, created.user_id)
    t.state.orders.clear()  # a rebuild dropped the replica; the log replays order.created

    await service.replicate_order(created, deps=t.deps)

    order = await t.deps.orders.get(created.id)
    assert order is not None
    assert (order.version, order.paid_by) == (0, payment.id)
