import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest
from bson import ObjectId

from services.auth.bootstrap import HASHER, create_service
from services.auth.config import HashingSettings, Settings
from services.auth.tests.conftest import Client, signup
from services.auth.tests.hashing import HashProbe, legacy_hash
from shared.mongo import Mongo
from shared.testing.poll import eventually
from shared.testing.services import opened

HASHES_AT_ONCE = 2


@pytest.fixture
def probe() -> HashProbe:
    return HashProbe()


@pytest.fixture
async def probed_client(
    aiohttp_client: Callable[..., Awaitable[Client]],
    settings: Settings,
    mongo: Mongo,
    probe: HashProbe,
) -> Client:
    """The auth app with a probe counting (and, when told, holding) its hashes."""
    hashing = HashingSettings(scrypt_log2_n=14, concurrency=HASHES_AT_ONCE, wait_s=30)
    app = create_service(replace(settings, hashing=hashing), around_hash=probe)
    return await opened(await aiohttp_client(app))


async def add_legacy_user(mongo: Mongo, email: str, password: str) -> str:
    """A user as auth stored them before: ``<hash>.<salt>`` at n=2**14."""
    stored = legacy_hash(password)
    await mongo.db.users.insert_one({"_id": ObjectId(), "email": email, "password": stored})
    return stored


async def test_signin_fails_for_an_email_that_does_not_exist(client: Client) -> None:
    response = await client.post(
        "/api/users/signin", json={"email": "nobody@test.com", "password": "password"}
    )

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Invalid credentials"}]}


async def test_signin_fails_for_a_wrong_password_with_the_same_message(client: Client) -> None:
    await signup(client)

    response = await client.post(
        "/api/users/signin", json={"email": "test@test.com", "password": "wrong-one"}
    )

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Invalid credentials"}]}


async def test_signin_responds_with_a_cookie_for_valid_credentials(client: Client) -> None:
    created = await (await signup(client)).json()
    client.session.cookie_jar.clear()

    response = await client.post(
        "/api/users/signin", json={"email": "test@test.com", "password": "password"}
    )

    assert response.status == 200
    assert await response.json() == created
    assert response.cookies["session"].value


async def test_signin_requires_a_password(client: Client) -> None:
    response = await client.post(
        "/api/users/signin", json={"email": "test@test.com", "password": ""}
    )

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "You must supply a password", "field": "password"}]
    }


async def test_signin_does_not_trim_the_password(client: Client) -> None:
    await signup(client, password="password")

    response = await client.post(
        "/api/users/signin", json={"email": "test@test.com", "password": " password "}
    )

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Invalid credentials"}]}


async def test_signin_requires_a_valid_email(client: Client) -> None:
    response = await client.post("/api/users/signin", json={"email": "nope", "password": "pw"})

    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "email"


async def test_a_password_over_128_characters_is_invalid_credentials_without_a_hash(
    probed_client: Client, probe: HashProbe
) -> None:
    await signup(probed_client, password="x" * 128)
    hashed = probe.ran

    response = await probed_client.post(
        "/api/users/signin", json={"email": "test@test.com", "password": "x" * 129}
    )

    assert response.status == 400
    assert await response.json() == {"errors": [{"message": "Invalid credentials"}]}
    assert probe.ran == hashed


async def test_an_account_from_before_signs_in_with_its_short_password_and_is_rehashed(
    client: Client, mongo: Mongo
) -> None:
    await add_legacy_user(mongo, "old@test.com", "abcd")

    first = await client.post(
        "/api/users/signin", json={"email": "old@test.com", "password": "abcd"}
    )
    doc = await mongo.db.users.find_one({"email": "old@test.com"})
    again = await client.post(
        "/api/users/signin", json={"email": "old@test.com", "password": "abcd"}
    )

    assert first.status == 200
    assert doc is not None
    assert doc["password"].startswith("scrypt$14$8$1$")  # the cost these tests configure
    assert again.status == 200


async def test_a_wrong_password_for_an_account_from_before_upgrades_nothing(
    client: Client, mongo: Mongo
) -> None:
    stored = await add_legacy_user(mongo, "old@test.com", "abcd")

    response = await client.post(
        "/api/users/signin", json={"email": "old@test.com", "password": "abcde"}
    )

    assert response.status == 400
    doc = await mongo.db.users.find_one({"email": "old@test.com"})
    assert doc is not None
    assert doc["password"] == stored


async def test_concurrent_sign_ins_hash_at_most_the_configured_number_at_once(
    probed_client: Client, probe: HashProbe
) -> None:
    attempts = 10
    for i in range(attempts):
        await signup(probed_client, email=f"user{i}@test.com")
    hasher = probed_client.app[HASHER]
    probe.hold()

    sign_ins = [
        asyncio.create_task(
            probed_client.post(
                "/api/users/signin", json={"email": f"user{i}@test.com", "password": "password"}
            )
        )
        for i in range(attempts)
    ]
    await eventually(
        lambda: probe.running == HASHES_AT_ONCE and hasher.waiting == attempts - HASHES_AT_ONCE,
        what=f"{HASHES_AT_ONCE} hashing and the others waiting",
    )
    probe.release()
    responses = await asyncio.gather(*sign_ins)

    assert [r.status for r in responses] == [200] * attempts
    assert probe.peak == HASHES_AT_ONCE


async def test_a_sign_in_that_waits_too_long_for_a_hash_is_a_503(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, mongo: Mongo
) -> None:
    probe = HashProbe()
    hashing = HashingSettings(scrypt_log2_n=14, concurrency=1, wait_s=0.05)
    client = await opened(
        await aiohttp_client(create_service(replace(settings, hashing=hashing), around_hash=probe))
    )
    await signup(client)
    probe.hold()
    first = asyncio.create_task(
        client.post("/api/users/signin", json={"email": "test@test.com", "password": "password"})
    )
    await eventually(lambda: probe.running == 1, what="the first sign-in hashing")

    second = await client.post(
        "/api/users/signin", json={"email": "test@test.com", "password": "password"}
    )
    probe.release()

    assert second.status == 503
    assert await second.json() == {
        "errors": [{"message": "Too many sign-ins at once; try again in a moment"}]
    }
    assert (await first).status == 200
