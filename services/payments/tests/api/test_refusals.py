"""payments takes only JSON (415) and only from its own site (403): issue 13, CSRF. Stripe's
webhook is JSON and sends no Origin, so it passes (test_webhook)."""

from bson import ObjectId

from services.payments.tests.conftest import Client, signed_webhook
from shared.testing.fixtures import Signin


async def test_a_webhook_that_is_not_json_is_415(client: Client) -> None:
    body, signature = signed_webhook({"id": "evt_1", "type": "payment_intent.succeeded"})

    response = await client.post(
        "/api/payments/webhook",
        data=body,
        headers={"Stripe-Signature": signature, "Content-Type": "text/plain"},
    )

    assert response.status == 415


async def test_a_payment_posted_from_another_site_is_403(client: Client, signin: Signin) -> None:
    response = await client.post(
        "/api/payments",
        json={"orderId": str(ObjectId()), "token": "pm_card_visa"},
        headers={"Origin": "https://evil.example"},
        cookies=signin(),
    )

    assert response.status == 403
    assert await response.json() == {"errors": [{"message": "Cross-site requests are not allowed"}]}
