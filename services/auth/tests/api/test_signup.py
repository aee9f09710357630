import asyncio

from services.auth.tests.conftest import Client, signup
from shared.mongo import Mongo


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
    hash_hex, salt_hex = doc["password"].split(".")
    assert len(hash_hex) == 128
    assert len(salt_hex) == 32


async def test_signup_with_an_invalid_email_is_a_400_naming_the_field(client: Client) -> None:
    response = await client.post(
        "/api/users/signup", json={"email": "alskdflaskjfd", "password": "password"}
    )

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "Email must be valid", "field": "email"}]
    }


async def test_signup_with_an_invalid_password_is_a_400_naming_the_field(client: Client) -> None:
    for password in ["p", "x" * 21, "   ab   "]:
        response = await client.post(
            "/api/users/signup", json={"email": "test@test.com", "password": password}
        )

        assert response.status == 400, password
        assert await response.json() == {
            "errors": [
                {"message": "Password must be between 4 and 20 characters", "field": "password"}
            ]
        }


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
            client.post("/api/users/signup", json={"email": "race@test.com", "password": "pw1234"})
            for _ in range(attempts)
        )
    )

    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [400] * (attempts - 1)


async def test_password_is_trimmed_before_it_is_stored(client: Client) -> None:
    await signup(client, password="  secret  ")

    response = await client.post(
        "/api/users/signin", json={"email": "test@test.com", "password": "secret"}
    )

    assert response.status == 200
