import pytest
from bson import ObjectId

from services.tickets.tests.conftest import Client, create_ticket
from shared.events import TicketCreated
from shared.mongo import Mongo
from shared.testing.events import EventTap, payload
from shared.testing.fixtures import Signin


async def test_post_api_tickets_has_a_handler(client: Client, signin: Signin) -> None:
    response = await client.post("/api/tickets", json={}, cookies=signin())

    # Not merely "not a 404": it is tickets' own handler that reads and refuses the body.
    assert response.status == 400
    assert {error["field"] for error in (await response.json())["errors"]} == {"title", "price"}


async def test_creating_a_ticket_requires_a_signed_in_user(client: Client) -> None:
    response = await client.post("/api/tickets", json={"title": "concert", "price": 10})

    assert response.status == 401
    assert await response.json() == {"errors": [{"message": "Not Authorized"}]}


async def test_auth_is_checked_before_validation(client: Client) -> None:
    response = await client.post("/api/tickets", json={"title": "", "price": -1})

    assert response.status == 401


async def test_an_invalid_title_is_a_400(client: Client, signin: Signin) -> None:
    for body in ({"title": "", "price": 10}, {"price": 10}, {"title": "   ", "price": 10}):
        response = await client.post("/api/tickets", json=body, cookies=signin())

        assert response.status == 400, body
        assert await response.json() == {
            "errors": [{"message": "Title is required", "field": "title"}]
        }


async def test_an_invalid_price_is_a_400(client: Client, signin: Signin) -> None:
    prices: list[object] = [-10, 0, "abc", None, True, "NaN", [], "-1"]
    for price in prices:
        response = await client.post(
            "/api/tickets", json={"title": "concert", "price": price}, cookies=signin()
        )

        assert response.status == 400, price
        assert await response.json() == {
            "errors": [{"message": "Price must be greater than 0", "field": "price"}]
        }
    missing = await client.post("/api/tickets", json={"title": "concert"}, cookies=signin())
    assert missing.status == 400


async def test_a_price_with_more_than_two_decimals_or_absurdly_high_is_a_400(
    client: Client, signin: Signin
) -> None:
    fractional = await client.post(
        "/api/tickets", json={"title": "a", "price": 10.555}, cookies=signin()
    )
    huge = await client.post("/api/tickets", json={"title": "a", "price": 1e300}, cookies=signin())

    assert fractional.status == 400
    assert (await fractional.json())["errors"][0]["message"] == "Price must have at most 2 decimals"
    assert huge.status == 400


async def test_creates_a_ticket_with_valid_inputs(
    client: Client, signin: Signin, mongo: Mongo
) -> None:
    assert await mongo.db.tickets.count_documents({}) == 0
    user = str(ObjectId())

    body = await create_ticket(client, signin(user), title="concert", price=20)

    assert body == {"id": body["id"], "title": "concert", "price": 20, "userId": user, "version": 0}
    stored = await mongo.db.tickets.find_one({})
    assert stored is not None
    assert (stored["title"], stored["price_cents"]) == ("concert", 2000)


async def test_a_numeric_string_price_is_accepted_and_stored_as_a_number(
    client: Client, signin: Signin
) -> None:
    body = await create_ticket(client, signin(), price="10.50")

    assert body["price"] == 10.5


async def test_creating_a_ticket_publishes_ticket_created(
    client: Client, signin: Signin, events: EventTap
) -> None:
    body = await create_ticket(client, signin(), title="concert", price=12.5)

    event = await events.wait_for(TicketCreated, lambda e: e.id == body["id"])
    assert payload(event) == {
        "id": body["id"],
        "version": 0,
        "title": "concert",
        "price": 12.5,
        "userId": body["userId"],
    }


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ('"1e999999999"', "Price must be greater than 0"),
        ("1e999999999", "Price must be greater than 0"),  # a JSON number Python reads as inf
        ("9" * 5000, "Price must be at most 100000"),
        ('"1e-999999999"', "Price must be greater than 0"),
        ("1e-999999999", "Price must be greater than 0"),
        ('"1_000"', "Price must be greater than 0"),
        ('" 10"', "Price must be greater than 0"),
        ('"+10"', "Price must be greater than 0"),
        ("0.49", "Price must be at least 0.50"),
        ('"0.49"', "Price must be at least 0.50"),
        ("100000.01", "Price must be at most 100000"),
        ('"10.555"', "Price must be greater than 0"),
    ],
)
async def test_a_price_outside_the_rules_is_a_400_on_price(
    client: Client, signin: Signin, mongo: Mongo, price: str, message: str
) -> None:
    body = f'{{"title": "concert", "price": {price}}}'

    response = await client.post(
        "/api/tickets", data=body, headers={"Content-Type": "application/json"}, cookies=signin()
    )

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": message, "field": "price"}]}
    assert await mongo.db.tickets.count_documents({}) == 0


@pytest.mark.parametrize(("price", "cents"), [("0.5", 50), ('"0.50"', 50), ("100000", 10_000_000)])
async def test_the_bounds_themselves_are_valid_prices(
    client: Client, signin: Signin, mongo: Mongo, price: str, cents: int
) -> None:
    response = await client.post(
        "/api/tickets",
        data=f'{{"title": "concert", "price": {price}}}',
        headers={"Content-Type": "application/json"},
        cookies=signin(),
    )

    assert response.status == 201, await response.text()
    [stored] = [doc async for doc in mongo.db.tickets.find()]
    assert stored["price_cents"] == cents
