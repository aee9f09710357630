"""Rendering pages, redirecting after forms, the HTML error pages, and each request's
view of the APIs. The middlewares around every page are in web/middlewares.py."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from services.client.domain import User
from services.client.ports import ApiUnavailable, UserApis
from services.client.web import csrf
from services.client.web.keys import APIS, USER_APIS
from shared import tracing


def browser_address(request: web.Request) -> str | None:
    """The browser's own address: what the gateway in front of us says, else our peer.

    The gateway sets X-Real-IP (and appends to X-Forwarded-For) from the address it trusts
    (GATEWAY_TRUSTED_PROXIES), so either names the browser, not a proxy. Nothing but the
    gateway or the ingress may reach the client, or a caller could name any address.
    """
    real_ip = request.headers.get("X-Real-IP", "").strip()
    if real_ip:
        return real_ip
    forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
    return forwarded or request.remote


def _trace_headers() -> dict[str, str]:
    """The page request's trace, so the API calls it makes log under the same id."""
    trace = tracing.current()
    if trace is None:
        return {}
    headers = {tracing.REQUEST_ID_HEADER: trace.request_id}
    if trace.traceparent:
        headers[tracing.TRACEPARENT_HEADER] = trace.traceparent
    return headers


def api(request: web.Request) -> UserApis:
    """The APIs as this request's user sees them (one client per request)."""
    client = request.get(USER_APIS)
    if client is None:
        # The browser's session, and its address: the gateway keys the sign-in limit by it
        # (it trusts our X-Forwarded-For), and the services log it.
        forwarded = {
            "Cookie": request.headers.get("Cookie"),
            "X-Forwarded-For": browser_address(request),
        }
        headers = {name: value for name, value in forwarded.items() if value}
        client = request.app[APIS].for_user({**headers, **_trace_headers()})
        request[USER_APIS] = client
    return client


async def read_form(request: web.Request, *names: str) -> dict[str, str]:
    """The named fields of a posted form; a missing one (or a file) is empty."""
    posted = await request.post()
    values = {name: posted.get(name, "") for name in names}
    return {name: value if isinstance(value, str) else "" for name, value in values.items()}


def new_idempotency_key() -> str:
    """A key for one rendering of a form: submitting it twice has one effect."""
    return uuid.uuid4().hex


def see_other(location: str) -> web.Response:
    """Where to go after a form succeeded (303: the browser follows with a GET)."""
    return web.Response(status=303, headers={"Location": location})


def _page(
    request: web.Request, template: str, status: int, user: User | None, context: dict[str, Any]
) -> web.Response:
    defaults = {
        "current_user": user,
        "show_nav": True,
        "errors": (),
        "csrf_token": csrf.form_token(request),  # every page may have a form: sign-out's
    }
    response = aiohttp_jinja2.render_template(
        template, request, {**defaults, **context}, status=status
    )
    csrf.give_cookie(request, response)
    # Every page shows one user's view of live data; no cache may keep or share it.
    response.headers["Cache-Control"] = "no-store"
    return response


async def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    """A page, with the header for whoever is signed in."""
    user = await api(request).current_user()
    return _page(request, template, status, user, context)


ERROR_TEXTS = {
    # A form without its CSRF token (an old page), or posted from another site.
    403: (
        "That form could not be sent",
        "It was out of date, or came from another site. Please reload the page and try again.",
    ),
    404: ("Page not found", "There is nothing here. The link may be old, or mistyped."),
    500: ("Something went wrong", "Sorry, that did not work. Please try again."),
    502: ("GitTix is having trouble", "We could not load this page. Please try again shortly."),
    503: ("GitTix is having trouble", "We could not load this page. Please try again shortly."),
}
OTHER_ERROR = ("That did not work", "Please go back and try again.")


async def error_page(request: web.Request, status: int) -> web.Response:
    title, message = ERROR_TEXTS.get(status, OTHER_ERROR)
    context = {"title": title, "message": message}
    if status < 500:
        with contextlib.suppress(ApiUnavailable):
            user = await api(request).current_user()
            return _page(request, "error.html", status, user, context)
    # The APIs may be what failed: no further calls, and a header without user links.
    return _page(request, "error.html", status, None, {**context, "show_nav": False})
