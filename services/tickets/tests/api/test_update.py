import asyncio

from bson import ObjectId

from services.tickets.tests.conftest import Client, create_ticket
from shared.events import TicketUpdated
from shared.mongo import Mongo
from shared.testing.events import EventTap, payload
from shared.testing.fixtures import Signin


async def test_updating_an_unknown_ticket_is_a_404(client: Client, signin: Signin) -> None:
    response = await client.put(
        f"/api/tickets/{ObjectId()}", json={"title": "x", "price": 20}, cookies=signin()
    )

    assert response.status == 404


async def test_updating_requires_a_signed_in_user(client: Client) -> None:
    response = await client.put(f"/api/tickets/{ObjectId()}", json={"title": "x", "price": 20})

    assert response.status == 401


async def test_only_the_seller_may_update_and_the_ticket_stays_unchanged(
    client: Client, signin: Signin
) -> None:
    created = await create_ticket(client, signin(), title="concert", price=20)

    response = await client.put(
        f"/api/tickets/{created['id']}", json={"title": "mine now", "price": 1}, cookies=signin()
    )

    assert response.status == 401
    assert await (await client.get(f"/api/tickets/{created['id']}")).json() == created


async def test_an_invalid_title_or_price_on_update_is_a_400(client: Client, signin: Signin) -> None:
    seller = signin()
    created = await create_ticket(client, seller)

    bad_title = await client.put(
        f"/api/tickets/{created['id']}", json={"title": "", "price": 20}, cookies=seller
    )
    bad_price = await client.put(
        f"/api/tickets/{created['id']}", json={"title": "ok", "price": -20}, cookies=seller
    )

    assert bad_title.status == 400
    assert bad_price.status == 400
    assert await bad_price.json() == {
        "errors": [{"message": "Price must be provided and greater than 0", "field": "price"}]
    }


async def test_validation_comes_before_the_lookup(client: Client, signin: Signin) -> None:
    response = await client.put(
        f"/api/tickets/{ObjectId()}", json={"title": "", "price": 20}, cookies=signin()
    )

    assert response.status == 400


async def test_updates_the_ticket_given_valid_inputs_and_publishes_it(
    client: Client, signin: Signin, events: EventTap
) -> None:
    seller = signin()
    created = await create_ticket(client, seller)

    response = await client.put(
        f"/api/tickets/{created['id']}", json={"title": "new title", "price": 100}, cookies=seller
    )

    assert response.status == 200
    shown = await (await client.get(f"/api/tickets/{created['id']}")).json()
    assert (shown["title"], shown["price"], shown["version"]) == ("new title", 100, 1)
    event = await events.wait_for(TicketUpdated, lambda e: e.id == created["id"])
    assert payload(event) == {
        "id": created["id"],
        "version": 1,
        "title": "new title",
        "price": 100,
        "userId": created["userId"],
    }


async def test_a_reserved_ticket_cannot_be_edited(
    client: Client, signin: Signin, mongo: Mongo
) -> None:
    seller = signin()
    created = await create_ticket(client, seller)
    await mongo.db.tickets.update_one(
        {"_id": ObjectId(created["id"])}, {"$set": {"order_id": str(ObjectId())}}
    )

    response = await client.put(
        f"/api/tickets/{created['id']}", json={"title": "x", "price": 5}, cookies=seller
    )

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Cannot edit a reserved ticket"}]}


async def test_concurrent_seller_updates_never_lose_an_update(
    client: Client, signin: Signin, events: EventTap
) -> None:
    seller = signin()
    created = await create_ticket(client, seller, price=5)

    responses = await asyncio.gather(
        *(
            client.put(
                f"/api/tickets/{created['id']}", json={"title": "t", "price": p}, cookies=seller
            )
            for p in (10, 15, 20, 25)
        )
    )

    statuses = [r.status for r in responses]
    assert set(statuses) <= {200, 409}
    assert 200 in statuses
    winners = [await r.json() for r in responses if r.status == 200]
    final = await (await client.get(f"/api/tickets/{created['id']}")).json()
    # Every accepted update got its own version: none was silently overwritten.
    assert sorted(w["version"] for w in winners) == list(range(1, len(winners) + 1))
    assert final["version"] == len(winners)
    assert final["price"] == next(w["price"] for w in winners if w["version"] == final["version"])
