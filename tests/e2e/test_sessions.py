"""Signing out revokes the session in every service: a copy of the old cookie, kept by
whoever stole it, is refused by auth and by tickets, orders and payments, through nginx."""

from __future__ import annotations

import aiohttp
from bson import ObjectId
from yarl import URL

from deploy.local.stack import Stack
from shared.testing.poll import eventually
from tests.e2e.conftest import PersonFactory

# An authenticated call of each API service, and what it answers once the session is gone.
PROBES = (
    ("POST", "/api/tickets", {"title": "stolen", "price": 10}),
    ("GET", "/api/orders", None),
    ("POST", "/api/orders", {"ticketId": str(ObjectId())}),
    ("POST", "/api/payments", {"orderId": str(ObjectId()), "token": "pm_card_visa"}),
)


async def test_a_copy_of_a_signed_out_cookie_is_refused_by_every_service(
    stack: Stack, someone: PersonFactory
) -> None:
    seller = await someone(stack)
    ticket = await seller.sell()
    copied = seller.http.cookie_jar.filter_cookies(URL(stack.url))
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in copied.items())
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), headers={"Cookie": cookie}
    ) as thief:

        async def current_user() -> object:
            response = await thief.get(f"{stack.url}/api/users/currentuser")
            return (await response.json())["currentUser"]

        async def statuses() -> list[int]:
            calls = [*PROBES, ("PUT", f"/api/tickets/{ticket['id']}", {"title": "x", "price": 1})]
            answers = []
            for method, path, body in calls:
                async with thief.request(method, f"{stack.url}{path}", json=body) as response:
                    answers.append(response.status)
            return answers

        assert await current_user() is not None
        assert 401 not in await statuses()  # the copy works while the session lives

        signout = await seller.http.post(f"{stack.url}/api/users/signout", json={})
        assert signout.status == 200, await signout.text()

        async def signed_out_everywhere() -> bool:
            return await current_user() is None and set(await statuses()) == {401}

        await eventually(
            signed_out_everywhere, timeout_s=15, interval_s=0.2, what="every service refusing"
        )
