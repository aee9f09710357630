"""GET /api/orders and GET /api/orders/:id: spec §14.4 `index.test` and `show.test`."""

from bson import ObjectId

from services.orders import service
from services.orders.service import Deps
from services.orders.tests.conftest import Client, place_order, replicate_ticket
from shared.events import TicketUpdated
from shared.testing.fixtures import Signin


async def test_fetches_orders_for_a_particular_user(
    client: Client, signin: Signin, deps: Deps
) -> None:
    ticket_one, ticket_two, ticket_three = [await replicate_ticket(deps) for _ in range(3)]
    user_one, user_two = signin(), signin()
    await place_order(client, user_one, ticket_one)
    order_one = await place_order(client, user_two, ticket_two)
    order_two = await place_order(client, user_two, ticket_three)

    response = await client.get("/api/orders", cookies=user_two)

    assert response.status == 200
    body = await response.json()
    assert [o["id"] for o in body] == [order_one["id"], order_two["id"]]
    assert [o["ticket"]["id"] for o in body] == [ticket_two, ticket_three]


async def test_the_list_includes_cancelled_orders(
    client: Client, signin: Signin, deps: Deps
) -> None:
    buyer = signin()
    order = await place_order(client, buyer, await replicate_ticket(deps))
    await client.delete(f"/api/orders/{order['id']}", cookies=buyer)

    body = await (await client.get("/api/orders", cookies=buyer)).json()

    assert [(o["id"], o["status"], o["version"]) for o in body] == [(order["id"], "cancelled", 1)]


async def test_orders_show_their_ticket_as_it_is_now(
    client: Client, signin: Signin, deps: Deps
) -> None:
    buyer = signin()
    ticket_id = await replicate_ticket(deps, title="old", price_cents=1000)
    order = await place_order(client, buyer, ticket_id)
    await service.apply_ticket_version(
        TicketUpdated(
            id=ticket_id,
            version=1,
            title="new",
            price_cents=1000,
            user_id=str(ObjectId()),
            order_id=order["id"],
        ),
        deps=deps,
    )

    body = await (await client.get(f"/api/orders/{order['id']}", cookies=buyer)).json()

    assert body["ticket"] == {"id": ticket_id, "title": "new", "price": 10, "version": 1}


async def test_listing_orders_needs_a_signed_in_user(client: Client) -> None:
    response = await client.get("/api/orders")

    assert response.status == 401


async def test_fetches_the_order(client: Client, signin: Signin, deps: Deps) -> None:
    buyer = signin()
    order = await place_order(client, buyer, await replicate_ticket(deps))

    response = await client.get(f"/api/orders/{order['id']}", cookies=buyer)

    assert response.status == 200
    assert await response.json() == order


async def test_returns_an_error_if_one_user_tries_to_fetch_another_users_order(
    client: Client, signin: Signin, deps: Deps
) -> None:
    order = await place_order(client, signin(), await replicate_ticket(deps))

    response = await client.get(f"/api/orders/{order['id']}", cookies=signin())

    assert response.status == 401
    assert await response.json() == {"errors": [{"message": "Not Authorized"}]}


async def test_an_unknown_or_malformed_order_id_is_not_found(
    client: Client, signin: Signin
) -> None:
    for order_id in (str(ObjectId()), "not-an-id"):
        response = await client.get(f"/api/orders/{order_id}", cookies=signin())

        assert response.status == 404
        assert await response.json() == {"errors": [{"message": "Not Found"}]}


async def test_showing_an_order_needs_a_signed_in_user(client: Client) -> None:
    response = await client.get(f"/api/orders/{ObjectId()}")

    assert response.status == 401
