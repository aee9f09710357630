"""The pages (spec §12.3). A page asks the APIs and renders; a form posts here, we call
the API and redirect (303), or show the form again with the API's errors.

Every form carries a CSRF token (web/csrf.py); a post from another site is refused
(shared.web.csrf).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from services.client import service
from services.client.domain import ActionRequired, Order, Payment, PaymentRecord, User
from services.client.ports import Rejected
from services.client.web.keys import SETTINGS
from services.client.web.pages import api, new_idempotency_key, read_form, render, see_other
from shared.web.csrf import own_origin

routes = web.RouteTableDef()


@routes.get("/")
async def landing(request: web.Request) -> web.Response:
    tickets = await api(request).list_tickets()
    return await render(request, "index.html", tickets=tickets)


# ---------------------------------------------------------------------------- auth


@dataclass(frozen=True)
class AuthForm:
    heading: str
    action: str
    password_autocomplete: str


SIGN_UP = AuthForm("Sign Up", "/auth/signup", "new-password")
SIGN_IN = AuthForm("Sign In", "/auth/signin", "current-password")


async def _authenticate(
    request: web.Request,
    form: AuthForm,
    submit: Callable[[str, str], Awaitable[User | Rejected]],
) -> web.Response:
    """Post the credentials to auth: home when it accepts them, the form again when not."""
    posted = await read_form(request, "email", "password")
    user = await submit(posted["email"], posted["password"])
    if isinstance(user, Rejected):
        return await render(
            request,
            "auth.html",
            status=user.status,
            errors=user.errors,
            form=form,
            email=posted["email"],
        )
    return see_other("/")


@routes.get("/auth/signup")
async def signup_form(request: web.Request) -> web.Response:
    return await render(request, "auth.html", form=SIGN_UP, email="")


@routes.post("/auth/signup")
async def signup(request: web.Request) -> web.Response:
    return await _authenticate(request, SIGN_UP, api(request).sign_up)


@routes.get("/auth/signin")
async def signin_form(request: web.Request) -> web.Response:
    return await render(request, "auth.html", form=SIGN_IN, email="")


@routes.post("/auth/signin")
async def signin(request: web.Request) -> web.Response:
    return await _authenticate(request, SIGN_IN, api(request).sign_in)


# POST only (the header's Sign Out is a form button): a GET from a link, a preloader or
# another site's <img> must not sign anyone out. GET is 405.
@routes.post("/auth/signout")
async def signout(request: web.Request) -> web.Response:
    await api(request).sign_out()
    return see_other("/")


# ---------------------------------------------------------------------------- tickets


# Registered before /tickets/{id}, which would otherwise take "new" for an id.
@routes.get("/tickets/new")
async def new_ticket_form(request: web.Request) -> web.Response:
    return await render(request, "new_ticket.html", title="", price="")


@routes.post("/tickets/new")
async def sell_ticket(request: web.Request) -> web.Response:
    form = await read_form(request, "title", "price")
    ticket = await api(request).sell_ticket(form["title"], form["price"])
    if isinstance(ticket, Rejected):
        return await render(
            request, "new_ticket.html", status=ticket.status, errors=ticket.errors, **form
        )
    return see_other("/")


@routes.get("/tickets/{id}")
async def ticket_page(request: web.Request) -> web.Response:
    ticket = await api(request).show_ticket(request.match_info["id"])
    return await render(
        request, "ticket.html", ticket=ticket, idempotency_key=new_idempotency_key()
    )


@routes.post("/tickets/{id}")
async def purchase(request: web.Request) -> web.Response:
    ticket_id = request.match_info["id"]
    form = await read_form(request, "idempotency_key")
    order = await api(request).place_order(ticket_id, idempotency_key=form["idempotency_key"])
    if isinstance(order, Rejected):
        ticket = await api(request).show_ticket(ticket_id)
        return await render(
            request,
            "ticket.html",
            status=order.status,
            errors=order.errors,
            ticket=ticket,
            idempotency_key=new_idempotency_key(),
        )
    return see_other(f"/orders/{quote(order.id, safe='')}")


# ---------------------------------------------------------------------------- orders


@routes.get("/orders")
async def orders_page(request: web.Request) -> web.Response:
    orders = await api(request).list_orders()
    return await render(request, "orders.html", orders=orders)


async def render_order(
    request: web.Request,
    order: Order,
    *,
    status: int = 200,
    payments: list[PaymentRecord] | None = None,
    challenge: ActionRequired | None = None,
    **context: Any,
) -> web.Response:
    """The order page: the countdown and the pay form while the order is open (or, once
    the card asked for 3-D Secure, the way to its ``challenge``), and what was paid and
    refunded."""
    now = datetime.now(UTC)
    return await render(
        request,
        "order.html",
        status=status,
        order=order,
        stage=order.stage(now).value,
        seconds_left=order.seconds_left(now),
        stripe_publishable_key=request.app[SETTINGS].stripe_publishable_key,
        stripe_js_url=request.app[SETTINGS].stripe_js_url,
        return_url=_return_url(request, order.id),
        idempotency_key=new_idempotency_key(),
        payments=payments,
        challenge=challenge,
        **context,
    )


@routes.get("/orders/{id}")
async def order_page(request: web.Request) -> web.Response:
    order = await api(request).show_order(request.match_info["id"])
    return await render_order(
        request, order, payments=await service.payments_shown(api(request), order)
    )


@routes.post("/orders/{id}")
async def pay(request: web.Request) -> web.Response:
    order_id = request.match_info["id"]
    form = await read_form(request, "token", "idempotency_key")
    payment = await service.pay_for_order(
        api(request),
        order_id,
        form["token"],
        return_url=_return_url(request, order_id),
        idempotency_key=form["idempotency_key"],
    )
    return await _after_paying(request, order_id, payment)


# Where the bank's 3-D Secure challenge sends the buyer back (the return_url; Stripe adds
# ?payment_intent=...&redirect_status=..., which we do not trust: payments asks Stripe).
# A GET, as any redirect is; it only settles what Stripe already decided, so repeating it,
# or another site linking to it, changes nothing but the buyer's view.
@routes.get("/orders/{id}/authenticated")
async def back_from_the_challenge(request: web.Request) -> web.Response:
    order_id = request.match_info["id"]
    return await _after_paying(
        request, order_id, await service.confirm_payment(api(request), order_id)
    )


# Stripe.js showed the challenge on the page (handleNextAction) and the page posts here.
@routes.post("/orders/{id}/confirm")
async def confirm_payment(request: web.Request) -> web.Response:
    order_id = request.match_info["id"]
    return await _after_paying(
        request, order_id, await service.confirm_payment(api(request), order_id)
    )


def _return_url(request: web.Request, order_id: str) -> str:
    origin = own_origin(request)
    base = str(origin) if origin is not None else str(request.url.origin())
    return f"{base}/orders/{quote(order_id, safe='')}/authenticated"


async def _after_paying(
    request: web.Request, order_id: str, payment: Payment | ActionRequired | Rejected
) -> web.Response:
    """Paid: My Orders. Refused: the order page with the API's errors and the pay form.
    3-D Secure: the order page with the way to the challenge."""
    if isinstance(payment, Payment):
        return see_other("/orders")
    order = await api(request).show_order(order_id)
    if isinstance(payment, Rejected):
        return await render_order(request, order, status=payment.status, errors=payment.errors)
    return await render_order(request, order, challenge=payment)
