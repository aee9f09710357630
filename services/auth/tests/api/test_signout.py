from services.auth.tests.conftest import Client, signup


async def test_signout_clears_the_cookie(client: Client) -> None:
    await signup(client)

    response = await client.post("/api/users/signout", json={})

    assert response.status == 200
    assert await response.json() == {}
    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith('session="";')
    assert "expires=Thu, 01 Jan 1970 00:00:00 GMT" in set_cookie
    assert "HttpOnly" in set_cookie
    assert "Path=/" in set_cookie


async def test_after_signout_the_current_user_is_null(client: Client) -> None:
    await signup(client)

    await client.post("/api/users/signout")
    response = await client.get("/api/users/currentuser")

    assert (await response.json()) == {"currentUser": None}
