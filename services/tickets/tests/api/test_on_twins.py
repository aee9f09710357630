"""The HTTP app on handed-in in-memory twins: create_app(settings, deps=...) needs no
broker and no database, and its handlers reach exactly the dependencies given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.tickets.adapters.memory import InMemoryTicketCatalog, InMemoryUnitOfWork
from services.tickets.api.app import create_app
from services.tickets.config import Settings
from services.tickets.service import Deps
from services.tickets.tests.conftest import Client
from shared.auth import IdentitySettings
from shared.events import TicketCreated, TicketUpdated
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import MongoSettings
from shared.testing.fixtures import Signin
from shared.web import HttpSettings

# Nothing listens there: a handler that reached past the twins would fail.
NOWHERE_MONGO = MongoSettings(url="mongodb://127.0.0.1:9/", database="none")
NOWHERE_AMQP = AmqpSettings(url="amqp://guest:guest@127.0.0.1:9/")


async def test_selling_and_editing_a_ticket_on_the_twins(
    aiohttp_client: Callable[..., Awaitable[Client]],
    jwt_keys: tuple[str, str],
    signin: Signin,
) -> None:
    memory = InMemoryUnitOfWork()
    settings = Settings(
        http=HttpSettings(),
        log=LogSettings(),
        mongo=NOWHERE_MONGO,
        amqp=NOWHERE_AMQP,
        identity=IdentitySettings(jwt_public_key=jwt_keys[1], cookie_secure=False),
    )
    client = await aiohttp_client(
        create_app(settings, deps=Deps(uow=memory, tickets=InMemoryTicketCatalog(memory)))
    )
    cookies = signin()

    created = await client.post(
        "/api/tickets", json={"title": "concert", "price": "10.50"}, cookies=cookies
    )
    assert created.status == 201, await created.text()
    ticket = await created.json()
    edited = await client.put(
        f"/api/tickets/{ticket['id']}", json={"title": "opera", "price": 12}, cookies=cookies
    )
    assert edited.status == 200, await edited.text()
    listing = await (await client.get("/api/tickets")).json()

    assert [(t["title"], t["price"], t["version"]) for t in listing] == [("opera", 12, 1)]
    assert [type(e) for e in memory.published] == [TicketCreated, TicketUpdated]
    stored = memory.state.tickets[ticket["id"]]
    assert (stored.price_cents, stored.version) == (1200, 1)
