from services.auth.tests.conftest import Client, signup


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
        "/api/users/signin", json={"email": "test@test.com", "password": "   "}
    )

    assert response.status == 400
    assert await response.json() == {
        "errors": [{"message": "You must supply a password", "field": "password"}]
    }


async def test_signin_requires_a_valid_email(client: Client) -> None:
    response = await client.post("/api/users/signin", json={"email": "nope", "password": "pw"})

    assert response.status == 400
    assert (await response.json())["errors"][0]["field"] == "email"
