"""The forms' CSRF token: a double-submitted random value (issue 13, CSRF).

Every page that has a form gives the browser a random token twice: in a cookie
(HttpOnly, SameSite=Strict, ``__Host-csrf`` when Secure) and in each form's hidden
``csrf`` field. A POST whose field does not equal its cookie is refused (403). A page on
another site can make a browser post here with our cookies, but it can neither read the
cookie nor, with the ``__Host-`` prefix, plant one of its own, so it cannot know the value.

This stands behind the other two doors: the session cookie is SameSite=Lax, and
``shared.web.csrf`` refuses posts whose ``Origin`` or ``Sec-Fetch-Site`` shows another
site. A token bound to the session would need a key of its own; this needs none.
"""

from __future__ import annotations

import hmac
import re
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler

from services.client.web.keys import SETTINGS
from shared.web.csrf import UNSAFE_METHODS

FIELD = "csrf"
# token_urlsafe(32): 43 characters of [A-Za-z0-9_-]; a cookie of another shape is not ours.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
_NEW_TOKEN = web.RequestKey("csrf_new_token", str)


def cookie_name(request: web.Request) -> str:
    # __Host-: only a Secure cookie for this exact host and path may carry the name, so a
    # sibling subdomain cannot set it for us.
    return "__Host-csrf" if request.app[SETTINGS].cookie_secure else "csrf"


def _browsers_token(request: web.Request) -> str | None:
    token = request.cookies.get(cookie_name(request), "")
    return token if TOKEN_SHAPE.fullmatch(token) else None


def form_token(request: web.Request) -> str:
    """The token this page's forms carry: the browser's, or a new one for ``give_cookie``."""
    token = _browsers_token(request) or request.get(_NEW_TOKEN)
    if token is None:
        token = request[_NEW_TOKEN] = secrets.token_urlsafe(32)
    return token


def give_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Send the cookie with the page whose forms got a new token."""
    token = request.get(_NEW_TOKEN)
    if token is None:
        return
    # No Max-Age: it lasts as long as the browser session; a page rendered after it is
    # gone simply brings a new one.
    response.set_cookie(
        cookie_name(request),
        token,
        path="/",
        httponly=True,  # JavaScript never needs it: the token is in the form
        samesite="Strict",
        secure=request.app[SETTINGS].cookie_secure,
    )


@web.middleware
async def csrf_protection(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 for a POST whose ``csrf`` field does not match the browser's cookie."""
    if request.method in UNSAFE_METHODS:
        expected = _browsers_token(request)
        posted = (await request.post()).get(FIELD)  # aiohttp keeps it for the handler
        if (
            expected is None
            or not isinstance(posted, str)
            or not hmac.compare_digest(expected.encode(), posted.encode())
        ):
            raise web.HTTPForbidden()
    return await handler(request)
