"""POST /api/orders takes only JSON (415) and only from its own site (403): issue 13, CSRF."""

from bson import ObjectId

from services.orders.tests.conftest import Client
from shared.testing.fixtures import Signin


async def test_an_order_posted_as_text_is_415(client: Client, signin: Signin) -> None:
    body = f'{{"ticketId": "{ObjectId()}"}}'

    response = await client.post("/api/orders", data=body, cookies=signin())

    assert response.status == 415


async def test_an_order_posted_from_another_site_is_403(client: Client, signin: Signin) -> None:
    response = await client.post(
        "/api/orders",
        json={"ticketId": str(ObjectId())},
        headers={"Origin": "null"},
        cookies=signin(),
    )

    assert response.status == 403
    assert await response.json() == {"errors": [{"message": "Cross-site requests are not allowed"}]}
