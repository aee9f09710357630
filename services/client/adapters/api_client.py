"""The platform's HTTP APIs, called server-side on behalf of one browser user: the
client's outbound adapter (ports.Apis). How each answer maps to a result or an error is
described in ports.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp
from marshmallow import Schema, ValidationError

from services.client.adapters.replies import (
    ActionRequiredReply,
    CurrentUserReply,
    ErrorsReply,
    OrderReply,
    PaymentRecordReply,
    PaymentReply,
    TicketReply,
    UserReply,
)
from services.client.config import ApiSettings
from services.client.domain import ActionRequired, Order, Payment, PaymentRecord, Ticket, User
from services.client.ports import ApiUnavailable, PageNotFound, Rejected, SignInRequired
from shared.errors import ErrorItem
from shared.web.requests import IDEMPOTENCY_HEADER

T = TypeVar("T")


@asynccontextmanager
async def open_api_clients(settings: ApiSettings) -> AsyncIterator[ApiClients]:
    """The one HTTP client session every page's API calls share, open for the block."""
    # A cookie jar here would carry one user's session into the next user's calls: the
    # client keeps no cookies, it forwards the browser's and hands back the API's.
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=settings.timeout_s),
        headers={"Accept": "application/json"},
    ) as http:
        yield ApiClients(http, settings)


class ApiClients:
    """The APIs at ``urls`` over one HTTP session; ``for_user`` gives one user's client."""

    def __init__(self, http: aiohttp.ClientSession, urls: ApiSettings) -> None:
        self._http = http
        self._urls = urls

    def for_user(self, headers: Mapping[str, str]) -> ApiClient:
        return ApiClient(self._http, self._urls, headers)


@dataclass(frozen=True)
class _Reply:
    method: str
    url: str
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiUnavailable(502, f"{self} is not JSON") from None

    def __str__(self) -> str:
        return f"{self.method} {self.url} ({self.status})"


def _parse(schema: Schema, kind: type[T], reply: _Reply) -> T:
    try:
        value = schema.load(reply.json())
    except ValidationError as exc:
        raise ApiUnavailable(502, f"{reply} has an unexpected body: {exc.messages}") from None
    if not isinstance(value, kind):
        raise ApiUnavailable(502, f"{reply} has an unexpected body")
    return value


def _parse_list(schema: Schema, kind: type[T], reply: _Reply) -> list[T]:
    items = _parse(schema, list, reply)
    typed = [item for item in items if isinstance(item, kind)]
    if len(typed) != len(items):
        raise ApiUnavailable(502, f"{reply} has an unexpected body")
    return typed


def _errors(reply: _Reply) -> list[ErrorItem]:
    try:
        items: list[ErrorItem] = ErrorsReply().load(json.loads(reply.body))["errors"]
    except (ValueError, ValidationError):
        # Not the platform's error shape (a proxy's page, say): still a refusal.
        return [{"message": f"The request was refused ({reply.status})"}]
    return items


def _payment_or_action(reply: _Reply | Rejected) -> Payment | ActionRequired | Rejected:
    """payments' answer to paying: 201 the payment, 202 the 3-D Secure challenge first."""
    if isinstance(reply, Rejected):
        return reply
    if reply.status == 202:
        return _parse(ActionRequiredReply(), ActionRequired, reply)
    return _parse(PaymentReply(), Payment, reply)


def _segment(value: str) -> str:
    """A path segment taken from our own URL, made safe to put into the API's."""
    return quote(value, safe="")


class ApiClient:
    """The APIs as one browser user sees them (ports.UserApis).

    ``headers`` (the user's ``Cookie``, the request id) go with every call; the cookies
    the APIs set are collected in ``set_cookies`` for the response to the browser.
    """

    def __init__(
        self, http: aiohttp.ClientSession, urls: ApiSettings, headers: Mapping[str, str]
    ) -> None:
        self._http = http
        self._urls = urls
        self._headers = dict(headers)
        self.set_cookies: list[str] = []
        self._user: User | None = None
        self._user_known = False

    # ------------------------------------------------------------------ auth

    async def current_user(self) -> User | None:
        """Who is signed in; asked once per page however often the page wants it."""
        if not self._user_known:
            reply = await self._get(f"{self._urls.auth_url}/api/users/currentuser")
            user = _parse(CurrentUserReply(), dict, reply)["user"]
            self._user = user if isinstance(user, User) else None
            self._user_known = True
        return self._user

    async def sign_up(self, email: str, password: str) -> User | Rejected:
        credentials = {"email": email, "password": password}
        reply = await self._send(
            "POST", f"{self._urls.auth_url}/api/users/signup", credentials, expect=201
        )
        return reply if isinstance(reply, Rejected) else _parse(UserReply(), User, reply)

    async def sign_in(self, email: str, password: str) -> User | Rejected:
        credentials = {"email": email, "password": password}
        reply = await self._send(
            "POST", f"{self._urls.auth_url}/api/users/signin", credentials, expect=200
        )
        return reply if isinstance(reply, Rejected) else _parse(UserReply(), User, reply)

    async def sign_out(self) -> None:
        await self._send("POST", f"{self._urls.auth_url}/api/users/signout", {}, expect=200)

    # ------------------------------------------------------------------ tickets

    async def list_tickets(self) -> list[Ticket]:
        """The tickets for sale (the API leaves reserved ones out)."""
        reply = await self._get(f"{self._urls.tickets_url}/api/tickets")
        return _parse_list(TicketReply(many=True), Ticket, reply)

    async def show_ticket(self, ticket_id: str) -> Ticket:
        reply = await self._get(f"{self._urls.tickets_url}/api/tickets/{_segment(ticket_id)}")
        return _parse(TicketReply(), Ticket, reply)

    async def sell_ticket(self, title: str, price: str) -> Ticket | Rejected:
        """List a ticket; ``price`` as typed (the API validates and parses it)."""
        reply = await self._send(
            "POST",
            f"{self._urls.tickets_url}/api/tickets",
            {"title": title, "price": price},
            expect=201,
        )
        return reply if isinstance(reply, Rejected) else _parse(TicketReply(), Ticket, reply)

    # ------------------------------------------------------------------ orders

    async def place_order(self, ticket_id: str, *, idempotency_key: str | None) -> Order | Rejected:
        reply = await self._send(
            "POST",
            f"{self._urls.orders_url}/api/orders",
            {"ticketId": ticket_id},
            expect=201,
            idempotency_key=idempotency_key,
        )
        return reply if isinstance(reply, Rejected) else _parse(OrderReply(), Order, reply)

    async def list_orders(self) -> list[Order]:
        reply = await self._get(f"{self._urls.orders_url}/api/orders")
        return _parse_list(OrderReply(many=True), Order, reply)

    async def show_order(self, order_id: str) -> Order:
        reply = await self._get(f"{self._urls.orders_url}/api/orders/{_segment(order_id)}")
        return _parse(OrderReply(), Order, reply)

    # ------------------------------------------------------------------ payments

    async def pay(
        self, order_id: str, token: str, *, return_url: str, idempotency_key: str | None
    ) -> Payment | ActionRequired | Rejected:
        """Charge the order with a ConfirmationToken (``ctoken_...``), a PaymentMethod id
        (``pm_...``) or a card token."""
        reply = await self._send(
            "POST",
            f"{self._urls.payments_url}/api/payments",
            {"orderId": order_id, "token": token, "returnUrl": return_url},
            expect=(201, 202),
            idempotency_key=idempotency_key,
        )
        return _payment_or_action(reply)

    async def confirm_payment(self, order_id: str) -> Payment | ActionRequired | Rejected:
        reply = await self._send(
            "POST",
            f"{self._urls.payments_url}/api/payments/confirm",
            {"orderId": order_id},
            expect=(201, 202),
        )
        return _payment_or_action(reply)

    async def payments_of(self, order_id: str) -> list[PaymentRecord]:
        """What payments took for the order and what it gave back; none while it has
        not heard of the order yet (its replica follows orders' events)."""
        reply = await self._call(
            "GET", f"{self._urls.payments_url}/api/payments?orderId={_segment(order_id)}"
        )
        if reply.status == 404:
            return []
        if reply.status == 401:
            raise SignInRequired(str(reply))
        if reply.status != 200:
            raise ApiUnavailable(502, f"{reply} was not expected")
        return _parse_list(PaymentRecordReply(many=True), PaymentRecord, reply)

    # ------------------------------------------------------------------ plumbing

    async def _get(self, url: str) -> _Reply:
        reply = await self._call("GET", url)
        if reply.status == 401:
            raise SignInRequired(str(reply))
        if reply.status == 404:
            raise PageNotFound(str(reply))
        if reply.status != 200:
            raise ApiUnavailable(502, f"{reply} was not expected")
        return reply

    async def _send(
        self,
        method: str,
        url: str,
        body: dict[str, Any],
        *,
        expect: int | tuple[int, ...],
        idempotency_key: str | None = None,
    ) -> _Reply | Rejected:
        headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key else {}
        reply = await self._call(method, url, json_body=body, headers=headers)
        if 400 <= reply.status < 500:
            return Rejected(reply.status, _errors(reply))
        if reply.status not in (expect if isinstance(expect, tuple) else (expect,)):
            raise ApiUnavailable(502, f"{reply} was not expected")
        return reply

    async def _call(
        self,
        method: str,
        url: str,
        *,
        json_body: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> _Reply:
        try:
            async with self._http.request(
                method, url, json=json_body, headers={**self._headers, **(headers or {})}
            ) as response:
                body = await response.read()
                self.set_cookies.extend(response.headers.getall("Set-Cookie", []))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiUnavailable(503, f"{method} {url}: {exc!r}") from exc
        reply = _Reply(method, url, response.status, body)
        if reply.status >= 500:
            # The gateway says 503 when a service is down; anything else is a failure.
            raise ApiUnavailable(503 if reply.status == 503 else 502, str(reply))
        return reply
