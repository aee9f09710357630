"""A signed-out session is refused: tickets hears ``session.revoked`` through real RabbitMQ."""

import time
from dataclasses import replace

from prometheus_client import REGISTRY

from services.tickets.tests.conftest import Client, create_ticket
from shared.messaging import AmqpSettings
from shared.testing.fixtures import Signin
from shared.testing.identity import publish_revocation, revocation_of
from shared.testing.poll import eventually


def consumed(outcome: str) -> float:
    labels = {"event": "session.revoked", "outcome": outcome}
    return REGISTRY.get_sample_value("events_consumed_total", labels) or 0.0


async def test_a_revoked_session_can_neither_create_nor_edit(
    client: Client, signin: Signin, amqp: AmqpSettings
) -> None:
    cookies = signin()
    ticket = await create_ticket(client, cookies)

    await publish_revocation(amqp, revocation_of(cookies))

    await eventually(lambda: refused(client, cookies), what="the revoked cookie refused")
    edit = await client.put(
        f"/api/tickets/{ticket['id']}", json={"title": "mine", "price": 10}, cookies=cookies
    )
    assert edit.status == 401
    assert (await edit.json())["errors"][0]["message"] == "Not Authorized"
    # Another session of the same user is untouched: the token is revoked, not the user.
    await create_ticket(client, signin(ticket["userId"]))


async def test_replays_and_revocations_of_expired_tokens_are_acknowledged(
    client: Client, signin: Signin, amqp: AmqpSettings
) -> None:
    cookies = signin()
    revoked = revocation_of(cookies)
    long_expired = replace(revocation_of(signin()), exp=int(time.time()) - 3600)
    acked, parked = consumed("acked"), consumed("parked")

    await publish_revocation(amqp, long_expired)
    await publish_revocation(amqp, revoked, times=2, message_id="revoked-1")  # redelivery
    await publish_revocation(amqp, revoked)  # a re-publish under a new message id

    await eventually(lambda: consumed("acked") == acked + 4, what="all four acked")
    assert consumed("parked") == parked
    await eventually(lambda: refused(client, cookies), what="the revoked cookie refused")


async def refused(client: Client, cookies: dict[str, str]) -> bool:
    response = await client.post("/api/tickets", json={"title": "t", "price": 10}, cookies=cookies)
    return response.status == 401
