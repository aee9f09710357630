"""The client app in the test's loop, against the real APIs: the whole stack behind nginx,
started once per session (``deploy.local.stack``) on ports of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from deploy.local.stack import Stack, running_stack
from services.client.bootstrap import create_service
from services.client.config import ApiSettings, Settings
from shared.logging import LogSettings
from shared.testing.fixtures import Signin, new_namespace
from shared.testing.poll import when_known
from shared.web import HttpSettings

Client = TestClient[Any, Any]
Cookies = dict[str, str]

# Clear of `make up` (8080, 18101...) and of the e2e stacks (tests/e2e).
GATEWAY_PORT = 21080
PORT_OFFSET = 3000


def stack_env(amqp_url: str, jwt_keys: tuple[str, str]) -> dict[str, str]:
    private, public = jwt_keys
    return {
        "AMQP_URL": amqp_url,
        # Queues and the expiry queue of this stack's own, whoever else shares the broker.
        "AMQP_QUEUE_TYPE": "classic",  # see AmqpSettings.queue_type
        "AMQP_NAMESPACE": new_namespace("client"),
        # A MongoDB wire server per service even when MONGO_URL is set: on one real
        # MongoDB, stacks would share the services' databases.
        "MONGO_URL": "",
        # Our keys, so `signin()` cookies are good on this stack.
        "JWT_PRIVATE_KEY": private,
        "JWT_PUBLIC_KEY": public,
        "LOG_LEVEL": "WARNING",
        # scrypt at 2**14, not 2**17: these stacks sign up many users (auth's tests keep 2**17).
        "AUTH_SCRYPT_LOG2_N": "14",
    }


@dataclass(frozen=True)
class Page:
    """A rendered page as a person reads it: its words, its links, its alert messages."""

    text: str
    links: list[tuple[str, str]]  # (text, href), in page order
    buttons: list[tuple[str, str]]  # (text, the action of its form), in page order
    nav: list[str]  # the header's link and button texts
    alerts: list[str]  # the error list's items
    csrf_fields: list[str]  # the value of each form's hidden csrf field

    @classmethod
    def of(cls, html: str) -> Page:
        reader = _PageReader()
        reader.feed(html)
        reader.close()
        return cls(
            text=_squash(reader.words),
            links=reader.links,
            buttons=reader.buttons,
            nav=reader.nav,
            alerts=reader.alerts,
            csrf_fields=reader.csrf_fields,
        )


def _squash(parts: list[str]) -> str:
    return " ".join(" ".join(parts).split())


class _PageReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.links: list[tuple[str, str]] = []
        self.buttons: list[tuple[str, str]] = []
        self.nav: list[str] = []
        self.alerts: list[str] = []
        self.csrf_fields: list[str] = []
        self._open: list[str] = []  # the elements we track that we are inside of
        self._href = ""
        self._action = ""
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag in {"a", "button", "nav", "li", "head", "script"}:
            self._open.append(tag)
        elif tag == "div" and "alert" in classes:
            self._open.append("alert")
        if tag in {"a", "button", "li"}:
            self._text = []
        if tag == "a":
            self._href = attributes.get("href") or ""
        if tag == "form":
            self._action = attributes.get("action") or ""
        if tag == "input" and attributes.get("name") == "csrf":
            self.csrf_fields.append(attributes.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        name = "alert" if tag == "div" else tag  # no div nests inside our alerts
        if name not in self._open:
            return
        self._open.remove(name)
        if tag == "a":
            self.links.append((_squash(self._text), self._href))
        if tag == "button":
            self.buttons.append((_squash(self._text), self._action))
        if tag in {"a", "button"} and "nav" in self._open:
            self.nav.append(_squash(self._text))
        if tag == "li" and "alert" in self._open:
            self.alerts.append(_squash(self._text))

    def handle_data(self, data: str) -> None:
        if "head" in self._open or "script" in self._open:
            return
        self.words.append(data)
        self._text.append(data)


async def page(response: aiohttp.ClientResponse) -> Page:
    return Page.of(await response.text())


@pytest.fixture(scope="session")
def stack(amqp_url: str, jwt_keys: tuple[str, str]) -> Iterator[Stack]:
    with running_stack(
        GATEWAY_PORT, env=stack_env(amqp_url, jwt_keys), port_offset=PORT_OFFSET
    ) as running:
        yield running


# The form token the tests' browser holds (web/csrf.py): any value of the right shape.
CSRF_TOKEN = "t" * 43


def form(**fields: str) -> dict[str, str]:
    """A form's fields as the page posts them, with the browser's CSRF token."""
    return {"csrf": CSRF_TOKEN, **fields}


def new_browser(client: Client) -> None:
    """Forget the session, as another browser would come without it."""
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({"csrf": CSRF_TOKEN})


async def browser(make: Callable[..., Awaitable[Client]], settings: Settings) -> Client:
    """The client app in a test client that holds a CSRF cookie, as after any page."""
    client = await make(create_service(settings))
    new_browser(client)
    return client


@pytest.fixture
def settings(stack: Stack) -> Settings:
    return Settings(
        http=HttpSettings(), log=LogSettings(), api=ApiSettings.at(stack.url), cookie_secure=False
    )


@pytest.fixture
async def client(aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings) -> Client:
    """The client app under test, calling the stack's APIs through its gateway."""
    return await browser(aiohttp_client, settings)


class Platform:
    """The stack's APIs, called directly to arrange what a test needs."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def sell(self, seller: Cookies, title: str = "concert", price: Any = 20) -> Any:
        async with aiohttp.ClientSession(cookies=seller) as http:
            response = await http.post(
                f"{self.url}/api/tickets", json={"title": title, "price": price}
            )
            assert response.status == 201, await response.text()
            return await response.json()

    async def place_order(self, buyer: Cookies, ticket_id: str) -> Any:
        """An order for the ticket, as soon as orders has heard of the ticket."""
        async with aiohttp.ClientSession(cookies=buyer) as http:
            response = await when_known(
                lambda: http.post(f"{self.url}/api/orders", json={"ticketId": ticket_id}),
                what=f"an order for {ticket_id}",
            )
            assert response.status == 201, await response.text()
            return await response.json()


async def purchase(
    client: Client, buyer: Cookies, ticket_id: str, idempotency_key: str = ""
) -> aiohttp.ClientResponse:
    """Press Purchase on the ticket's page, as soon as orders has heard of the ticket."""
    return await when_known(
        lambda: client.post(
            f"/tickets/{ticket_id}",
            data=form(idempotency_key=idempotency_key),
            cookies=buyer,
            allow_redirects=False,
        ),
        what=f"purchase of {ticket_id}",
    )


async def pay(
    client: Client, buyer: Cookies, order_id: str, token: str = "pm_card_visa"
) -> aiohttp.ClientResponse:
    """Press Pay on the order's page, as soon as payments has heard of the order."""
    return await when_known(
        lambda: client.post(
            f"/orders/{order_id}", data=form(token=token), cookies=buyer, allow_redirects=False
        ),
        what=f"payment of {order_id}",
    )


@pytest.fixture
def platform(stack: Stack) -> Platform:
    return Platform(stack.url)


@pytest.fixture
def seller(signin: Signin) -> Cookies:
    return signin()


@pytest.fixture
def buyer(signin: Signin) -> Cookies:
    return signin()
