"""A service process killed under a running stack is restarted as it was: same port, same
MongoDB (so its data is still there), and the state file tells tools where it is now."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

from deploy.local.stack import Stack
from shared.testing.poll import eventually
from tests.e2e.conftest import Person, PersonFactory

# The restart's backoff (0.5 s), then the service's own startup.
RESTART_TIMEOUT_S = 30


def state_of(stack: Stack, name: str) -> Any:
    return json.loads(stack.state_path.read_text())["processes"][name]


async def my_order_ids(buyer: Person) -> set[str] | None:
    """The ids of the buyer's orders, or None while orders does not answer 200."""
    response = await buyer.http.get(f"{buyer.url}/api/orders")
    if response.status != 200:
        return None
    return {order["id"] for order in await response.json()}


async def test_a_killed_service_is_restarted_on_its_port_with_its_data(
    stack: Stack, someone: PersonFactory
) -> None:
    seller, buyer = await someone(stack), await someone(stack)
    ticket = await seller.sell("supervised")
    order = await buyer.order_when_known(ticket["id"])
    before = state_of(stack, "orders")
    killed = stack.pid("orders")
    assert killed is not None
    assert killed == before["pid"]

    os.kill(killed, signal.SIGKILL)

    async def answered_by_a_new_process() -> set[str] | None:
        if stack.pid("orders") in (None, killed):
            return None
        return await my_order_ids(buyer)

    orders = await eventually(
        answered_by_a_new_process,
        timeout_s=RESTART_TIMEOUT_S,
        interval_s=0.2,
        what="orders restarted and answering",
    )
    after = state_of(stack, "orders")
    assert order["id"] in orders  # the same MongoDB: its data survived the restart
    assert stack.restarts("orders") == 1
    assert after["pid"] == stack.pid("orders")
    assert after["restarts"] == 1
    assert (after["port"], after["mongo_url"]) == (before["port"], before["mongo_url"])
