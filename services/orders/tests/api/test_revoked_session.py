"""A signed-out session is refused: orders hears ``session.revoked`` through real RabbitMQ."""

from bson import ObjectId

from services.orders.tests.conftest import Client
from shared.messaging import AmqpSettings
from shared.testing.fixtures import Signin
from shared.testing.identity import publish_revocation, revocation_of
from shared.testing.poll import eventually


async def test_a_revoked_session_can_neither_list_nor_order(
    client: Client, signin: Signin, amqp: AmqpSettings
) -> None:
    cookies = signin()
    assert (await client.get("/api/orders", cookies=cookies)).status == 200

    await publish_revocation(amqp, revocation_of(cookies))

    async def refused() -> bool:
        return (await client.get("/api/orders", cookies=cookies)).status == 401

    await eventually(refused, what="GET /api/orders refused with the revoked cookie")
    order = await client.post("/api/orders", json={"ticketId": str(ObjectId())}, cookies=cookies)
    assert order.status == 401
