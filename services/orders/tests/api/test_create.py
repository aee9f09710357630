"""POST /api/orders: spec §14.4 `new.test`, the atomic reservation and Idempotency-Key."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from services.orders.service import Deps
from services.orders.tests.conftest import (
    HOLD_S,
    Client,
    marker_order_announced,
    place_order,
    replica,
    replicate_ticket,
    stored_order,
)
from shared.events import OrderCreated, OrderStatus
from shared.testing.events import EventTap, payload
from shared.testing.fixtures import Signin


async def test_a_signed_out_user_cannot_order(client: Client) -> None:
    response = await client.post("/api/orders", json={"ticketId": str(ObjectId())})

    assert response.status == 401
    assert await response.json() == {"errors": [{"message": "Not Authorized"}]}


@pytest.mark.parametrize("body", [{}, {"ticketId": ""}, {"ticketId": None}, {"ticketId": "abc"}])
async def test_a_missing_or_malformed_ticket_id_is_rejected(
    client: Client, signin: Signin, body: dict[str, object]
) -> None:
    response = await client.post("/api/orders", json=body, cookies=signin())

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "TicketId must be provided", "field": "ticketId"}]
    }


async def test_a_body_that_is_not_json_is_a_bad_request(client: Client, signin: Signin) -> None:
    response = await client.post(
        "/api/orders",
        data=b"{ticketId",
        headers={"Content-Type": "application/json"},
        cookies=signin(),
    )

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Request body must be valid JSON"}]}


async def test_returns_an_error_if_the_ticket_does_not_exist(
    client: Client, signin: Signin
) -> None:
    response = await client.post(
        "/api/orders", json={"ticketId": str(ObjectId())}, cookies=signin()
    )

    assert response.status == 404
    assert await response.json() == {"errors": [{"message": "Not Found"}]}


async def test_returns_an_error_if_the_ticket_is_already_reserved(
    client: Client, signin: Signin, deps: Deps
) -> None:
    ticket_id = await replicate_ticket(deps)
    await place_order(client, signin(), ticket_id)

    response = await client.post("/api/orders", json={"ticketId": ticket_id}, cookies=signin())

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Ticket is already reserved"}]}


async def test_reserves_a_ticket_for_the_hold_period(
    client: Client, signin: Signin, deps: Deps
) -> None:
    ticket_id = await replicate_ticket(deps, title="Dil Dhadkane", price_cents=3050)
    user_id = str(ObjectId())
    before = datetime.now(UTC)

    order = await place_order(client, signin(user_id), ticket_id)

    expires_at = datetime.fromisoformat(order.pop("expiresAt"))
    assert before + timedelta(seconds=HOLD_S - 1) < expires_at
    assert expires_at <= datetime.now(UTC) + timedelta(seconds=HOLD_S)
    assert ObjectId.is_valid(order.pop("id"))
    assert order == {
        "status": "created",
        "userId": user_id,
        "ticket": {"id": ticket_id, "title": "Dil Dhadkane", "price": 30.5, "version": 0},
        "version": 0,
    }


async def test_emits_an_order_created_event(
    client: Client, signin: Signin, deps: Deps, events: EventTap
) -> None:
    ticket_id = await replicate_ticket(deps, price_cents=2000)
    order = await place_order(client, signin(), ticket_id)

    event = await events.wait_for(OrderCreated, lambda e: e.id == order["id"])

    assert payload(event) == {
        "id": order["id"],
        "version": 0,
        "status": "created",
        "userId": order["userId"],
        "expiresAt": order["expiresAt"],
        "ticket": {"id": ticket_id, "price": 20},
    }


async def test_concurrent_orders_for_one_ticket_reserve_it_exactly_once(
    client: Client, signin: Signin, deps: Deps, events: EventTap
) -> None:
    ticket_id = await replicate_ticket(deps)

    responses = await asyncio.gather(
        *(
            client.post("/api/orders", json={"ticketId": ticket_id}, cookies=signin())
            for _ in range(8)
        )
    )

    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [400] * 7
    winner = next(r for r in responses if r.status == 201)
    order_id = (await winner.json())["id"]
    marker = await marker_order_announced(client, signin, deps, events)
    assert [e.id for e in events.of(OrderCreated)] == [order_id, marker]


async def test_a_cancelled_order_no_longer_reserves_its_ticket(
    client: Client, signin: Signin, deps: Deps
) -> None:
    ticket_id = await replicate_ticket(deps)
    buyer = signin()
    first = await place_order(client, buyer, ticket_id)
    await client.delete(f"/api/orders/{first['id']}", cookies=buyer)

    second = await place_order(client, signin(), ticket_id)

    assert second["id"] != first["id"]
    assert (await stored_order(deps, first["id"])).status == OrderStatus.CANCELLED


async def test_a_repeated_idempotency_key_returns_the_first_order_and_reserves_nothing(
    client: Client, signin: Signin, deps: Deps, events: EventTap
) -> None:
    ticket_id = await replicate_ticket(deps)
    buyer = signin()
    headers = {"Idempotency-Key": "order-attempt-1"}
    first = await place_order(client, buyer, ticket_id, headers=headers)

    repeat = await client.post(
        "/api/orders", json={"ticketId": ticket_id}, cookies=buyer, headers=headers
    )

    assert repeat.status == 201
    assert await repeat.json() == first
    assert [o.id for o in await deps.orders.of_user(first["userId"])] == [first["id"]]
    marker = await marker_order_announced(client, signin, deps, events)
    assert [e.id for e in events.of(OrderCreated)] == [first["id"], marker]


async def test_concurrent_requests_with_one_idempotency_key_make_one_order(
    client: Client, signin: Signin, deps: Deps
) -> None:
    ticket_id = await replicate_ticket(deps)
    buyer = signin()
    headers = {"Idempotency-Key": "double-click"}

    responses = await asyncio.gather(
        *(
            client.post("/api/orders", json={"ticketId": ticket_id}, cookies=buyer, headers=headers)
            for _ in range(4)
        )
    )

    assert [r.status for r in responses] == [201] * 4
    bodies = [await r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies)
    assert len(await deps.orders.of_user(bodies[0]["userId"])) == 1


async def test_an_idempotency_key_belongs_to_its_user(
    client: Client, signin: Signin, deps: Deps
) -> None:
    headers = {"Idempotency-Key": "same-key"}
    first = await place_order(client, signin(), await replicate_ticket(deps), headers=headers)

    other = await place_order(client, signin(), await replicate_ticket(deps), headers=headers)

    assert other["id"] != first["id"]


async def test_an_idempotency_key_reused_for_another_ticket_is_refused(
    client: Client, signin: Signin, deps: Deps
) -> None:
    buyer = signin()
    headers = {"Idempotency-Key": "k1"}
    await place_order(client, buyer, await replicate_ticket(deps), headers=headers)
    other_ticket = await replicate_ticket(deps)

    response = await client.post(
        "/api/orders", json={"ticketId": other_ticket}, cookies=buyer, headers=headers
    )

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "Idempotency-Key was already used for a different request"}]
    }
    # The refused request reserved nothing: someone else can still have the ticket.
    assert (await place_order(client, signin(), other_ticket))["status"] == "created"


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
async def test_an_empty_or_overlong_idempotency_key_is_rejected(
    client: Client, signin: Signin, deps: Deps, key: str
) -> None:
    ticket_id = await replicate_ticket(deps)

    response = await client.post(
        "/api/orders",
        json={"ticketId": ticket_id},
        cookies=signin(),
        headers={"Idempotency-Key": key},
    )

    assert response.status == 400
    body = await response.json()
    assert body["errors"][0]["field"] == "Idempotency-Key"
    # The refused request reserved nothing.
    assert (await place_order(client, signin(), ticket_id))["status"] == "created"


async def test_a_seller_cannot_order_their_own_ticket(
    client: Client, signin: Signin, deps: Deps
) -> None:
    seller = str(ObjectId())
    ticket_id = await replicate_ticket(deps, seller_id=seller)

    response = await client.post(
        "/api/orders", json={"ticketId": ticket_id}, cookies=signin(seller)
    )

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "You cannot order your own ticket"}]}
    assert (await replica(deps, ticket_id)) is not None
    assert await deps.orders.of_user(seller) == []


TOO_MANY = "You already hold 5 open orders, the most at once: pay for or cancel one first"


async def test_a_buyer_holds_at_most_five_open_orders_and_may_order_again_after_a_cancel(
    client: Client, signin: Signin, deps: Deps
) -> None:
    buyer = signin()
    orders = [await place_order(client, buyer, await replicate_ticket(deps)) for _ in range(5)]
    sixth_ticket = await replicate_ticket(deps)

    refused = await client.post("/api/orders", json={"ticketId": sixth_ticket}, cookies=buyer)
    await client.delete(f"/api/orders/{orders[0]['id']}", cookies=buyer)
    again = await client.post("/api/orders", json={"ticketId": sixth_ticket}, cookies=buyer)

    assert refused.status == 400
    assert await refused.json() == {"errors": [{"message": TOO_MANY}]}
    assert again.status == 201


async def test_concurrent_orders_of_one_buyer_never_open_more_than_five(
    client: Client, signin: Signin, deps: Deps
) -> None:
    buyer_id = str(ObjectId())
    tickets = [await replicate_ticket(deps) for _ in range(8)]

    responses = await asyncio.gather(
        *(
            client.post("/api/orders", json={"ticketId": t}, cookies=signin(buyer_id))
            for t in tickets
        )
    )

    assert sorted(r.status for r in responses) == [201] * 5 + [400] * 3
    for refused in (r for r in responses if r.status == 400):
        assert await refused.json() == {"errors": [{"message": TOO_MANY}]}
    open_orders = [o for o in await deps.orders.of_user(buyer_id) if o.status == "created"]
    assert len(open_orders) == 5
