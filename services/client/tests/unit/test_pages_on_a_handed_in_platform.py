"""Pages rendered from APIs the test hands in (``create_app(settings, deps=...)``): no
stack, no HTTP to the APIs. What each API call returns is the test's; the page tests
(tests/pages) run the same pages against the real stack."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from services.client.config import ApiSettings, Settings
from services.client.domain import (
    ActionRequired,
    Order,
    Payment,
    PaymentRecord,
    PaymentStatus,
    Ticket,
    User,
)
from services.client.ports import ApiUnavailable, Rejected
from services.client.web.app import create_app
from shared.events import OrderStatus
from shared.logging import LogSettings
from shared.web import HttpSettings

Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]
TICKET = Ticket(id="t1", title="Concert", price_cents=1250)
BUYER = User(id="u1", email="buyer@example.com")


class Platform:
    """The APIs as a dict of answers: a ticket on sale, one order, its payment records.
    ``down`` makes every call fail as an unreachable API would."""

    def __init__(self, order: Order, records: list[PaymentRecord]) -> None:
        self.order = order
        self.records = records
        self.down = False
        self.headers: list[dict[str, str]] = []
        # What pay and confirm_payment answer, in turn; and what they were asked.
        self.answers: list[Payment | ActionRequired | Rejected] = []
        self.calls: list[tuple[str, str, str]] = []

    def for_user(self, headers: Mapping[str, str]) -> UserView:
        self.headers.append(dict(headers))
        return UserView(self)


class UserView:
    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self.set_cookies: list[str] = []

    def _up(self) -> None:
        if self._platform.down:
            raise ApiUnavailable(503, "the test's platform is down")

    async def current_user(self) -> User | None:
        self._up()
        return BUYER

    async def sign_up(self, email: str, password: str) -> User | Rejected:
        raise NotImplementedError

    async def sign_in(self, email: str, password: str) -> User | Rejected:
        raise NotImplementedError

    async def sign_out(self) -> None:
        raise NotImplementedError

    async def list_tickets(self) -> list[Ticket]:
        self._up()
        return [TICKET]

    async def show_ticket(self, ticket_id: str) -> Ticket:
        raise NotImplementedError

    async def sell_ticket(self, title: str, price: str) -> Ticket | Rejected:
        raise NotImplementedError

    async def place_order(self, ticket_id: str, *, idempotency_key: str | None) -> Order | Rejected:
        raise NotImplementedError

    async def list_orders(self) -> list[Order]:
        self._up()
        return [self._platform.order]

    async def show_order(self, order_id: str) -> Order:
        self._up()
        return self._platform.order

    async def pay(
        self, order_id: str, token: str, *, return_url: str, idempotency_key: str | None
    ) -> Payment | ActionRequired | Rejected:
        self._up()
        self._platform.calls.append(("pay", token, return_url))
        return self._platform.answers.pop(0)

    async def confirm_payment(self, order_id: str) -> Payment | ActionRequired | Rejected:
        self._up()
        self._platform.calls.append(("confirm", order_id, ""))
        return self._platform.answers.pop(0)

    async def payments_of(self, order_id: str) -> list[PaymentRecord]:
        self._up()
        return self._platform.records


def settings() -> Settings:
    # Never called: the handed-in platform answers instead.
    api = ApiSettings.at("http://127.0.0.1:9")
    return Settings(HttpSettings(), LogSettings(), api, cookie_secure=False)


def an_order(status: OrderStatus) -> Order:
    return Order("o1", status, datetime.now(UTC) + timedelta(minutes=15), TICKET)


async def test_the_listing_shows_what_the_handed_in_apis_return(
    aiohttp_client: MakeClient,
) -> None:
    platform = Platform(an_order(OrderStatus.CREATED), [])
    client = await aiohttp_client(create_app(settings(), deps=platform))

    response = await client.get("/", headers={"Cookie": "session=abc"})

    text = await response.text()
    assert response.status == 200
    assert "Concert" in text
    assert "12.50" in text
    assert platform.headers[0]["Cookie"] == "session=abc"


async def test_my_orders_show_each_order_status_as_its_wire_string(
    aiohttp_client: MakeClient,
) -> None:
    platform = Platform(an_order(OrderStatus.AWAITING_PAYMENT), [])
    client = await aiohttp_client(create_app(settings(), deps=platform))

    response = await client.get("/orders")

    assert response.status == 200
    assert "Concert - awaiting:payment" in await response.text()


async def test_a_cancelled_order_lists_what_was_given_back(aiohttp_client: MakeClient) -> None:
    refund = PaymentRecord("p1", "pi_1", PaymentStatus.REFUNDED, "order_cancelled")
    platform = Platform(an_order(OrderStatus.CANCELLED), [refund])
    client = await aiohttp_client(create_app(settings(), deps=platform))

    response = await client.get("/orders/o1")

    text = await response.text()
    assert response.status == 200
    assert 'data-payment="refunded"' in text
    assert "Refunded in full: the order was cancelled before the payment reached it." in text


async def test_an_open_order_asks_payments_nothing(aiohttp_client: MakeClient) -> None:
    # Records that an open order's page must not show: it shows the pay form instead.
    paid = PaymentRecord("p1", "pi_1", PaymentStatus.SUCCEEDED)
    platform = Platform(an_order(OrderStatus.CREATED), [paid])
    client = await aiohttp_client(create_app(settings(), deps=platform))

    response = await client.get("/orders/o1")

    text = await response.text()
    assert response.status == 200
    assert "data-payment" not in text


async def test_apis_that_are_down_make_the_outage_page(aiohttp_client: MakeClient) -> None:
    platform = Platform(an_order(OrderStatus.CREATED), [])
    platform.down = True
    client = await aiohttp_client(create_app(settings(), deps=platform))

    response = await client.get("/")

    assert response.status == 503
    assert "GitTix is having trouble" in await response.text()
