"""Sign-out revokes the token: auth records it, announces ``session.revoked``, and refuses a
copy of the old cookie, on every replica. And the cookie's ``__Host-`` name when Secure."""

from collections.abc import Awaitable, Callable
from dataclasses import replace
from http.cookies import BaseCookie

from services.auth.bootstrap import create_service
from services.auth.config import Settings
from services.auth.tests.conftest import Client, signup
from shared.events import SessionRevoked
from shared.testing.events import EventTap
from shared.testing.identity import revocation_of
from shared.testing.poll import eventually
from shared.testing.services import opened


def session_of(response_cookies: BaseCookie[str]) -> dict[str, str]:
    """The session cookie as a browser would send it back (a copy an attacker kept)."""
    return {name: morsel.value for name, morsel in response_cookies.items()}


async def whoami(client: Client, cookies: dict[str, str]) -> object:
    client.session.cookie_jar.clear()  # only the copy speaks
    response = await client.get("/api/users/currentuser", cookies=cookies)
    assert response.status == 200
    return (await response.json())["currentUser"]


async def test_signing_out_revokes_the_token_and_announces_it(
    client: Client, events: EventTap
) -> None:
    created = await (await signup(client)).json()
    copy = session_of(client.session.cookie_jar.filter_cookies(client.make_url("/")))
    assert await whoami(client, copy) is not None

    response = await client.post("/api/users/signout", json={}, cookies=copy)

    assert response.status == 200
    assert await whoami(client, copy) is None  # at once, on this replica
    announced = await events.wait_for(SessionRevoked)
    assert announced == revocation_of(copy)  # the token's own jti and exp
    assert announced.user_id == created["id"]


async def test_another_replica_started_later_refuses_the_revoked_cookie_too(
    client: Client, settings: Settings, aiohttp_client: Callable[..., Awaitable[Client]]
) -> None:
    await signup(client)
    copy = session_of(client.session.cookie_jar.filter_cookies(client.make_url("/")))
    running = await opened(await aiohttp_client(create_service(settings)))
    assert await whoami(running, copy) is not None

    await client.post("/api/users/signout", json={}, cookies=copy)
    later = await opened(await aiohttp_client(create_service(settings)))

    assert await whoami(later, copy) is None  # it loads the revocations before it is ready
    await eventually(lambda: signed_out(running, copy), what="the running replica refusing it")


async def signed_out(client: Client, cookies: dict[str, str]) -> bool:
    return await whoami(client, cookies) is None


async def test_signing_out_without_a_session_announces_nothing(
    client: Client, events: EventTap
) -> None:
    await signup(client)
    copy = session_of(client.session.cookie_jar.filter_cookies(client.make_url("/")))
    client.session.cookie_jar.clear()
    for cookies in ({}, {"session": "junk"}):
        assert (await client.post("/api/users/signout", json={}, cookies=cookies)).status == 200

    await client.post("/api/users/signout", json={}, cookies=copy)  # a barrier: announced
    await events.wait_for(SessionRevoked)

    assert len(events.of(SessionRevoked)) == 1


async def test_a_secure_session_cookie_is_named_host_session(
    settings: Settings, aiohttp_client: Callable[..., Awaitable[Client]]
) -> None:
    secure = replace(settings, identity=replace(settings.identity, cookie_secure=True))
    client = await opened(await aiohttp_client(create_service(secure)))

    response = await signup(client)

    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith("__Host-session=")
    attributes = [part.strip().lower() for part in set_cookie.split(";")[1:]]
    assert "secure" in attributes
    assert "path=/" in attributes
    assert not any(part.startswith("domain") for part in attributes)
    copy = {"__Host-session": response.cookies["__Host-session"].value}
    assert await whoami(client, copy) is not None
    assert await whoami(client, {"session": copy["__Host-session"]}) is None
