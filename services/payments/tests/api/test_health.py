"""The probes: the process answers, and says when MongoDB and RabbitMQ do."""

from services.payments.tests.conftest import Client


async def test_healthz_answers(client: Client) -> None:
    response = await client.get("/healthz")

    assert response.status == 200


async def test_readyz_checks_mongo_and_rabbitmq(client: Client) -> None:
    response = await client.get("/readyz")

    assert response.status == 200
    assert (await response.json())["checks"] == {"mongo": "ok", "rabbitmq": "ok"}
