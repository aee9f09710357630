from bson import ObjectId

from services.tickets.tests.conftest import Client, create_ticket
from shared.mongo import Mongo
from shared.testing.fixtures import Signin


async def test_showing_an_unknown_ticket_is_a_404(client: Client) -> None:
    response = await client.get(f"/api/tickets/{ObjectId()}")

    assert response.status == 404


async def test_showing_a_malformed_id_is_a_404(client: Client) -> None:
    response = await client.get("/api/tickets/asdflkjafds")

    assert response.status == 404
    assert await response.json() == {"errors": [{"message": "Not Found"}]}


async def test_returns_the_ticket_if_it_is_found(client: Client, signin: Signin) -> None:
    created = await create_ticket(client, signin(), title="concert", price=20)

    response = await client.get(f"/api/tickets/{created['id']}")

    assert response.status == 200
    assert await response.json() == created


async def test_can_fetch_a_list_of_tickets(client: Client, signin: Signin) -> None:
    for title in ("a", "b", "c"):
        await create_ticket(client, signin(), title=title)

    response = await client.get("/api/tickets")

    assert response.status == 200
    assert [t["title"] for t in await response.json()] == ["a", "b", "c"]


async def test_reserved_tickets_are_shown_but_not_listed(
    client: Client, signin: Signin, mongo: Mongo
) -> None:
    kept = await create_ticket(client, signin(), title="free")
    held = await create_ticket(client, signin(), title="held")
    order_id = str(ObjectId())
    await mongo.db.tickets.update_one(
        {"_id": ObjectId(held["id"])}, {"$set": {"order_id": order_id}}
    )

    listing = await (await client.get("/api/tickets")).json()
    shown = await (await client.get(f"/api/tickets/{held['id']}")).json()

    assert [t["id"] for t in listing] == [kept["id"]]
    assert shown["orderId"] == order_id
