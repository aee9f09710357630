"""What the pages and use cases need from the platform's APIs, and how those calls fail.

The client has no store of its own: its one outbound port is the platform's HTTP APIs,
called server-side as one browser user (adapters/api_client.py implements it).

Reads (what a page shows) raise: ``PageNotFound`` for a 404, ``SignInRequired`` for a
401. Commands (what a form does) return the result or ``Rejected`` with the API's error
list for the form to show. Either way, an API that cannot be reached, fails (5xx) or
answers nonsense raises ``ApiUnavailable``, which becomes an error page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from services.client.domain import ActionRequired, Order, Payment, PaymentRecord, Ticket, User
from shared.errors import ErrorItem


class ApiUnavailable(Exception):
    """No usable answer from an API; ``status`` is what the browser gets (502 or 503)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class PageNotFound(Exception):
    """The API has no such thing (404)."""


class SignInRequired(Exception):
    """The API serves this only to a signed-in user, or only to its owner (401)."""


@dataclass(frozen=True)
class Rejected:
    """The API refused a command (4xx): its status and messages, to show with the form."""

    status: int
    errors: list[ErrorItem]


class UserApis(Protocol):
    """The APIs as one browser user sees them.

    The user's ``Cookie`` and the request id go with every call; the cookies the APIs set
    are collected in ``set_cookies`` for the response to the browser.
    """

    @property
    def set_cookies(self) -> list[str]: ...

    async def current_user(self) -> User | None: ...

    async def sign_up(self, email: str, password: str) -> User | Rejected: ...

    async def sign_in(self, email: str, password: str) -> User | Rejected: ...

    async def sign_out(self) -> None: ...

    async def list_tickets(self) -> list[Ticket]: ...

    async def show_ticket(self, ticket_id: str) -> Ticket: ...

    async def sell_ticket(self, title: str, price: str) -> Ticket | Rejected: ...

    async def place_order(
        self, ticket_id: str, *, idempotency_key: str | None
    ) -> Order | Rejected: ...

    async def list_orders(self) -> list[Order]: ...

    async def show_order(self, order_id: str) -> Order: ...

    async def pay(
        self, order_id: str, token: str, *, return_url: str, idempotency_key: str | None
    ) -> Payment | ActionRequired | Rejected:
        """Pay with ``token``; a card that asks for 3-D Secure is ``ActionRequired``, and
        a redirect to its challenge comes back to ``return_url``."""
        ...

    async def confirm_payment(self, order_id: str) -> Payment | ActionRequired | Rejected:
        """Finish paying once the buyer has answered the 3-D Secure challenge."""
        ...

    async def payments_of(self, order_id: str) -> list[PaymentRecord]: ...


class Apis(Protocol):
    """The platform's APIs, shared by every page; each request calls them as its user."""

    def for_user(self, headers: Mapping[str, str]) -> UserApis: ...
