"""The HTTP app on handed-in in-memory twins: create_app(settings, deps=...) needs no
database and no broker, and its handlers reach exactly the dependencies given."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.auth.adapters.passwords import PasswordHasher
from services.auth.adapters.revocations import InMemoryRevocationLog
from services.auth.adapters.users import InMemoryUserRepository
from services.auth.api.app import create_app
from services.auth.config import HashingSettings, Settings
from services.auth.service import Deps
from services.auth.tests.conftest import Client
from shared.auth import IdentitySettings, TokenSigner
from shared.logging import LogSettings
from shared.messaging import AmqpSettings
from shared.mongo import MongoSettings
from shared.web import HttpSettings

# Nothing listens there: a handler that reached past the twins would fail.
NOWHERE_MONGO = MongoSettings(url="mongodb://127.0.0.1:9/", database="none")
NOWHERE_AMQP = AmqpSettings(url="amqp://guest:guest@127.0.0.1:9/")
CREDENTIALS = {"email": "Turing@Test.com", "password": "enigma42"}


async def test_signing_up_in_and_out_on_the_twins(
    aiohttp_client: Callable[..., Awaitable[Client]], jwt_keys: tuple[str, str]
) -> None:
    private, public = jwt_keys
    hashing = HashingSettings(scrypt_log2_n=14)
    settings = Settings(
        http=HttpSettings(),
        log=LogSettings(),
        mongo=NOWHERE_MONGO,
        identity=IdentitySettings(jwt_public_key=public, cookie_secure=False),
        amqp=NOWHERE_AMQP,
        jwt_private_key=private,
        hashing=hashing,
    )
    users, revocations = InMemoryUserRepository(), InMemoryRevocationLog()
    deps = Deps(
        users=users,
        signer=TokenSigner(private, ttl_s=60),
        revocations=revocations,
        hasher=PasswordHasher(hashing),
    )
    client = await aiohttp_client(create_app(settings, deps=deps))

    signed_up = await client.post("/api/users/signup", json=CREDENTIALS)
    assert signed_up.status == 201, await signed_up.text()
    signed_in = await client.post("/api/users/signin", json=CREDENTIALS)
    assert signed_in.status == 200, await signed_in.text()
    me = await (await client.get("/api/users/currentuser")).json()
    signed_out = await client.post("/api/users/signout")

    assert signed_out.status == 200
    assert list(users.users) == ["turing@test.com"]
    user_id = users.users["turing@test.com"].id
    assert me["currentUser"]["id"] == user_id
    assert [event.user_id for event in revocations.revoked] == [user_id]
