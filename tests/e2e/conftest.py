"""End to end: the whole stack behind real nginx, as ``make up`` runs it, with the web
client at ``/``. Two stacks per session, each on ports of its own: one holding an order
for the usual 15 minutes, one for 3 seconds so expiry can be watched."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, ViewportSize, async_playwright

from deploy.local.stack import Stack, running_stack
from shared.testing.fixtures import new_namespace
from shared.testing.infra import REPO_ROOT
from shared.testing.poll import eventually, when_known

SHORT_HOLD_S = 3


def stack_env(amqp_url: str, **overrides: str) -> dict[str, str]:
    return {
        "AMQP_URL": amqp_url,
        # Queues and the expiry queue of this stack's own, whoever else shares the broker.
        "AMQP_QUEUE_TYPE": "classic",  # see AmqpSettings.queue_type
        "AMQP_NAMESPACE": new_namespace("e2e"),
        # A MongoDB wire server per service even when MONGO_URL is set: on one real
        # MongoDB, the two stacks would share the services' databases.
        "MONGO_URL": "",
        "LOG_LEVEL": "WARNING",
        # scrypt at 2**14, not 2**17: these stacks sign up many users (auth's tests keep 2**17).
        "AUTH_SCRYPT_LOG2_N": "14",
        **overrides,
    }


# Ports clear of `make up` (8080, 18101...) and of services/client's tests (21080, 21101...).
@pytest.fixture(scope="session")
def stack(amqp_url: str) -> Iterator[Stack]:
    with running_stack(19080, env=stack_env(amqp_url), port_offset=1000) as running:
        yield running


@pytest.fixture(scope="session")
def short_hold_stack(amqp_url: str) -> Iterator[Stack]:
    env = stack_env(amqp_url, ORDER_EXPIRATION_SECONDS=str(SHORT_HOLD_S))
    with running_stack(20080, env=env, port_offset=2000) as running:
        yield running


def new_email() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}@test.com"


class Person:
    """Someone using the APIs through the gateway, with a cookie jar of their own."""

    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.http = http

    async def sign_up(self) -> None:
        response = await self.http.post(
            f"{self.url}/api/users/signup", json={"email": new_email(), "password": "password"}
        )
        assert response.status == 201, await response.text()

    async def sell(self, title: str = "concert", price: float = 20) -> Any:
        response = await self.http.post(
            f"{self.url}/api/tickets", json={"title": title, "price": price}
        )
        assert response.status == 201, await response.text()
        return await response.json()

    async def order(self, ticket_id: str) -> aiohttp.ClientResponse:
        return await self.http.post(f"{self.url}/api/orders", json={"ticketId": ticket_id})

    async def order_when_known(self, ticket_id: str) -> Any:
        """Order the ticket as soon as orders has heard of it (201)."""
        response = await when_known(
            lambda: self.order(ticket_id), what=f"an order for ticket {ticket_id}"
        )
        assert response.status == 201, await response.text()
        return await response.json()

    async def cancel(self, order_id: str) -> None:
        response = await self.http.delete(f"{self.url}/api/orders/{order_id}")
        assert response.status == 204, await response.text()

    async def order_status(self, order_id: str) -> str:
        response = await self.http.get(f"{self.url}/api/orders/{order_id}")
        assert response.status == 200, await response.text()
        status: str = (await response.json())["status"]
        return status

    async def order_reaches(self, order_id: str, status: str, *, timeout_s: float = 10.0) -> None:
        """Wait for the order to have ``status``: orders hears of payment and expiry by event."""

        async def reached() -> bool:
            return await self.order_status(order_id) == status

        await eventually(
            reached, timeout_s=timeout_s, interval_s=0.1, what=f"order {order_id} {status}"
        )

    async def pay(self, order_id: str, token: str = "pm_card_visa") -> aiohttp.ClientResponse:
        return await self.http.post(
            f"{self.url}/api/payments", json={"orderId": order_id, "token": token}
        )

    async def pay_when_known(
        self, order_id: str, token: str = "pm_card_visa"
    ) -> aiohttp.ClientResponse:
        """Pay as soon as payments has heard of the order; the response, 404s aside."""
        return await when_known(
            lambda: self.pay(order_id, token), what=f"payments to know order {order_id}"
        )

    async def listed_ids(self) -> set[str]:
        response = await self.http.get(f"{self.url}/api/tickets")
        return {ticket["id"] for ticket in await response.json()}


PersonFactory = Callable[[Stack], Awaitable[Person]]


@pytest.fixture
async def someone() -> AsyncIterator[PersonFactory]:
    """``await someone(stack)``: a new person, signed up on that stack."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(stack: Stack) -> Person:
        # unsafe: the gateway is an IP address, whose cookies a strict jar would drop.
        http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(http)
        person = Person(stack.url, http)
        await person.sign_up()
        return person

    yield make
    for http in sessions:
        await http.close()


async def ticket_orders_knows(
    seller: Person, prober: Person, title: str = "concert", price: float = 20
) -> Any:
    """A ticket for sale that orders has heard of, so buyers can race for it at once.

    ``prober`` (not the seller: nobody may order their own ticket) orders it as soon as
    orders knows it, then lets it go again.
    """
    ticket = await seller.sell(title, price)
    order = await prober.order_when_known(ticket["id"])
    await prober.cancel(order["id"])
    return ticket


# ---------------------------------------------------------------------------- the browser

SCREENSHOTS = REPO_ROOT / ".run" / "test-output" / "screenshots"
PHONE = ViewportSize(width=390, height=844)


def chromium_executable() -> str:
    """The distribution's Chromium (Playwright cannot download its own browsers here)."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            "Chromium is not installed: apt-get install -y --no-install-recommends "
            "chromium fonts-dejavu-core (or set CHROMIUM to its path)",
            pytrace=False,
        )
    return path


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_executable(), args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            await launched.close()


class Screenshots:
    """Each page a test visits, saved in order under .run/test-output/screenshots/<test>/."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.taken = 0

    async def take(self, page: Page, name: str) -> None:
        """Save the page, after checking it reads on a phone: nothing wider than the screen."""
        self.taken += 1
        await page.screenshot(path=self.folder / f"{self.taken:02d}-{name}.png", full_page=True)
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.url} is {overflow}px wider than a phone screen"


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return Screenshots(folder)


@pytest.fixture
async def phone(chromium: Browser) -> AsyncIterator[Page]:
    """A fresh browser profile (no cookies) with a phone-sized screen.

    Script errors and console errors (a Content-Security-Policy refusal is one) fail the
    test; a page answered with an error status is expected and not counted.
    """
    context = await chromium.new_context(viewport=PHONE)
    page = await context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"{page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    try:
        yield page
    finally:
        await context.close()
    assert not problems, f"the browser reported errors: {problems}"
