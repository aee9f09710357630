"""payments' order replica takes order.snapshot through real RabbitMQ only when it is newer;
the payment an order keeps stays payments' own, and a snapshot showing the order cancelled
gives it back."""

from __future__ import annotations

from bson import ObjectId

from services.payments.domain import PaymentStatus
from services.payments.service import Deps
from services.payments.tests.conftest import (
    Client,
    consumed,
    open_order,
    pay,
    publish,
    replica,
    settled,
)
from shared.events import OrderCreated, OrderSnapshot, OrderStatus
from shared.messaging import Publisher
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually

REQUEST = "0123456789abcdef0123456789abcdef"


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


async def paid_order(
    client: Client, deps: Deps, publisher: Publisher, signin: Signin
) -> tuple[OrderCreated, str]:
    """An order the replica knows, paid for: the event and the kept payment's id."""
    buyer = str(ObjectId())
    created = await open_order(deps, publisher, user_id=buyer)
    response = await pay(client, signin(buyer), created.id)
    assert response.status == 201, await response.text()
    return created, (await response.json())["id"]


async def test_a_snapshot_not_newer_is_ignored_and_a_newer_one_keeps_the_payment(
    client: Client, deps: Deps, publisher: Publisher, signin: Signin
) -> None:
    created, payment_id = await paid_order(client, deps, publisher, signin)
    acked = consumed("order.snapshot", "acked")

    await publish(publisher, snapshot_of(created, 0, OrderStatus.CANCELLED))  # not newer
    await settled("order.snapshot", "acked", acked + 1)
    still = await replica(deps, created.id)
    await publish(publisher, snapshot_of(created, 1, OrderStatus.COMPLETE))
    taken = await replica(deps, created.id, version=1)

    assert (still.version, still.status, still.paid_by) == (0, OrderStatus.CREATED, payment_id)
    assert (taken.status, taken.paid_by) == (OrderStatus.COMPLETE, payment_id)


async def test_a_newer_snapshot_showing_the_order_cancelled_refunds_its_payment(
    client: Client, deps: Deps, publisher: Publisher, signin: Signin
) -> None:
    created, payment_id = await paid_order(client, deps, publisher, signin)

    # Its cancellation never reached payments; the snapshot jumps to it.
    await publish(publisher, snapshot_of(created, 2, OrderStatus.CANCELLED))

    await replica(deps, created.id, version=2, status=OrderStatus.CANCELLED)

    async def refunded() -> bool:
        payments = await deps.payments.of_order(created.id)
        return [(p.id, p.status) for p in payments] == [(payment_id, PaymentStatus.REFUNDED)]

    await eventually(refunded, what="the kept payment refunded")
