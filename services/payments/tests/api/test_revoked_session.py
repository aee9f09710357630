"""A signed-out session is refused: payments hears ``session.revoked`` through real RabbitMQ."""

from bson import ObjectId

from services.payments.tests.conftest import Client
from shared.messaging import AmqpSettings
from shared.testing.fixtures import Signin
from shared.testing.identity import publish_revocation, revocation_of
from shared.testing.poll import eventually


async def test_a_revoked_session_can_neither_pay_nor_look(
    client: Client, signin: Signin, amqp: AmqpSettings
) -> None:
    cookies = signin()
    body = {"orderId": str(ObjectId()), "token": "tok_visa"}
    before = await client.post("/api/payments", json=body, cookies=cookies)
    assert before.status == 404, await before.text()  # signed in; the order is unknown

    await publish_revocation(amqp, revocation_of(cookies))

    async def refused() -> bool:
        return (await client.post("/api/payments", json=body, cookies=cookies)).status == 401

    await eventually(refused, what="POST /api/payments refused with the revoked cookie")
    look = await client.get(f"/api/payments?orderId={body['orderId']}", cookies=cookies)
    assert look.status == 401
