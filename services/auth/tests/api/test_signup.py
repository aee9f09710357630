import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from services.auth.bootstrap import create_service
from services.auth.config import HashingSettings, Settings
from services.auth.tests.conftest import Client, signup
from shared.config import Env
from shared.mongo import Mongo
from shared.testing.services import opened

LENGTH_MESSAGE = "Password must be between 8 and 128 characters"


@pytest.fixture
async def default_cost_client(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, mongo: Mongo
) -> Client:
    """The auth app hashing at the real default cost, not the suite's cheap one."""
    app = create_service(replace(settings, hashing=HashingSettings.from_env(Env({}))))
    return await opened(await aiohttp_client(app))


async def test_signup_returns_201_with_id_and_email(client: Client) -> None:
    response = await client.post(
        "/api/users/signup", json={"email": "test@test.com", "password": "password"}
    )

    assert response.status == 201
    body = await response.json()
    assert set(body) == {"id", "email"}
    assert body["email"] == "test@test.com"
    assert len(body["id"]) == 24


async def test_signup_sets_an_httponly_lax_session_cookie(client: Client) -> None:
    response = await signup(client)

    cookie = response.cookies["session"]
    assert cookie.value
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert not cookie["secure"]  # COOKIE_SECURE=false in these tests


async def test_signup_never_stores_the_plain_password(client: Client, mongo: Mongo) -> None:
    await signup(client, password="password")

    doc = await mongo.db.users.find_one({"email": "test@test.com"})
    assert doc is not None
    assert "password" not in doc["password"]
    scheme, _, _, _, salt_hex, hash_hex = doc["password"].split("$")
    assert scheme == "scrypt"
    assert len(hash_hex) == 128
    assert len(salt_hex) == 32


async def test_signup_hashes_with_scrypt_n_2_17_r_8_p_1_by_default(
    default_cost_client: Client, mongo: Mongo
) -> None:
    await signup(default_cost_client, password="password")

    doc = await mongo.db.users.find_one({"email": "test@test.com"})
    assert doc is not None
    assert doc["password"].startswith("scrypt$17$8$1$")
    signed_in = await default_cost_client.post(
        "/api/users/signin", json={"email": "test@test.com", "password": "password"}
    )
    assert signed_in.status == 200


async def test_signup_with_an_invalid_email_is_a_400_naming_the_field(client: Client) -> None:
    response = await client.post(
        "/api/users/signup", json={"email": "alskdflaskjfd", "password": "password"}
    )

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "Email must be valid", "field": "email"}]
    }


async def test_signup_with_an_invalid_password_is_a_400_naming_the_field(client: Client) -> None:
    for password in ["", "p", "x" * 7, "x" * 129, "🔒" * 7, "🔒" * 129]:
        response = await client.post(
            "/api/users/signup", json={"email": "test@test.com", "password": password}
        )

        assert response.status == 400, password
        assert await response.json() == {
            "errors": [{"message": LENGTH_MESSAGE, "field": "password"}]
        }


async def test_signup_takes_passwords_of_8_to_128_characters(client: Client) -> None:
    for i, password in enumerate(["x" * 8, "x" * 128, "correct horse battery staple"]):
        response = await client.post(
            "/api/users/signup", json={"email": f"user{i}@test.com", "password": password}
        )

        assert response.status == 201, password


async def test_password_length_counts_characters_not_bytes(client: Client) -> None:
    # 🔒 is one code point and four UTF-8 bytes: 8 of them are 32 bytes, 128 are 512.
    four_characters = await client.post(
        "/api/users/signup", json={"email": "a@test.com", "password": "🔒" * 4}
    )
    eight_characters = await client.post(
        "/api/users/signup", json={"email": "b@test.com", "password": "🔒" * 8}
    )
    most_characters = await client.post(
        "/api/users/signup", json={"email": "c@test.com", "password": "🔒" * 128}
    )

    assert four_characters.status == 400
    assert (eight_characters.status, most_characters.status) == (201, 201)


async def test_signup_with_missing_fields_reports_each_field(client: Client) -> None:
    only_email = await client.post("/api/users/signup", json={"email": "test@test.com"})
    only_password = await client.post("/api/users/signup", json={"password": "password"})
    empty = await client.post("/api/users/signup", json={})

    assert only_email.status == 400
    assert [e["field"] for e in (await only_email.json())["errors"]] == ["password"]
    assert only_password.status == 400
    assert [e["field"] for e in (await only_password.json())["errors"]] == ["email"]
    assert empty.status == 400
    assert [e["field"] for e in (await empty.json())["errors"]] == ["email", "password"]


async def test_signup_with_a_wrongly_typed_field_is_a_400_not_a_500(client: Client) -> None:
    response = await client.post("/api/users/signup", json={"email": 42, "password": ["x"]})

    assert response.status == 400
    assert {e["field"] for e in (await response.json())["errors"]} == {"email", "password"}


async def test_signup_disallows_duplicate_emails(client: Client) -> None:
    await signup(client)

    again = await client.post(
        "/api/users/signup", json={"email": "test@test.com", "password": "password"}
    )

    assert again.status == 400
    assert await again.json() == {"errors": [{"message": "Email in use"}]}


async def test_emails_differing_only_in_case_are_one_account(client: Client) -> None:
    await signup(client, email="Test@Test.com")

    again = await client.post(
        "/api/users/signup", json={"email": "test@test.COM", "password": "password"}
    )

    assert again.status == 400


async def test_concurrent_signups_with_one_email_give_exactly_one_201(client: Client) -> None:
    attempts = 8

    responses = await asyncio.gather(
        *(
            client.post(
                "/api/users/signup", json={"email": "race@test.com", "password": "password"}
            )
            for _ in range(attempts)
        )
    )

    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [400] * (attempts - 1)


async def test_a_password_is_stored_as_typed_spaces_and_all(client: Client) -> None:
    await signup(client, password="  spaced out  ")

    trimmed = await client.post(
        "/api/users/signin", json={"email": "test@test.com", "password": "spaced out"}
    )
    as_typed = await client.post(
        "/api/users/signin", json={"email": "test@test.com", "password": "  spaced out  "}
    )

    assert trimmed.status == 400
    assert as_typed.status == 200


async def test_spaces_count_towards_the_length(client: Client) -> None:
    # Four letters and four spaces: 8 characters, though trimmed (as the original did) only 4.
    response = await client.post(
        "/api/users/signup", json={"email": "test@test.com", "password": "  abcd  "}
    )

    assert response.status == 201


async def test_a_password_utf8_cannot_carry_is_a_400_not_a_500(client: Client) -> None:
    # "\ud800" is legal JSON and decodes to a lone surrogate, which has no UTF-8 form.
    body = '{"email": "test@test.com", "password": "password\\ud800"}'

    for path in ["/api/users/signup", "/api/users/signin"]:
        response = await client.post(path, data=body, headers={"Content-Type": "application/json"})

        assert response.status == 400, path
        assert (await response.json())["errors"][0]["field"] == "password"
