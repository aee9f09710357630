"""A rebuild where the broker keeps no event log: the snapshots alone make the replica equal."""

from __future__ import annotations

from services.orders.api.keys import SETTINGS as ORDERS_SETTINGS
from shared.testing.fixtures import Signin
from shared.testing.poll import eventually
from tests.integration.conftest import Orders, Tickets
from tests.integration.test_rebuild import rebuilt, ticket_replica_equals_tickets
from tests.integration.test_tickets_and_orders import sell


async def test_without_an_event_log_the_snapshots_alone_rebuild_the_replica(
    tickets: Tickets, orders: Orders, signin: Signin
) -> None:
    seller = signin()
    for _ in range(3):
        await sell(tickets, seller)
    await eventually(lambda: ticket_replica_equals_tickets(tickets, orders), what="in step")

    mark = await rebuilt(orders, ORDERS_SETTINGS, "tickets")

    assert mark["state"] == "done", mark
    assert "dropped 3, 3 snapshots, log: no replay" in mark["report"]
    assert await ticket_replica_equals_tickets(tickets, orders)
