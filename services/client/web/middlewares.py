"""The middlewares around every page: friendly error pages, the APIs' cookies passed
back to the browser, and the security headers."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from services.client.config import STRIPE_JS_URL
from services.client.ports import ApiUnavailable, PageNotFound, SignInRequired
from services.client.web.keys import USER_APIS
from services.client.web.pages import api, error_page, see_other
from shared.errors import AppError

log = logging.getLogger(__name__)


async def _sign_in_first(request: web.Request) -> web.Response:
    try:
        user = await api(request).current_user()
    except ApiUnavailable as exc:
        return await error_page(request, exc.status)
    if user is None:
        return see_other("/auth/signin")
    # Signed in, but not theirs (the APIs say 401 to anyone but the owner).
    return await error_page(request, 404)


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Failures become friendly pages; a traceback only ever goes to the log."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return await error_page(request, exc.status)
    except AppError as exc:  # shared.web's refusals (a cross-site post: 403)
        return await error_page(request, exc.status)
    except PageNotFound:
        return await error_page(request, 404)
    except SignInRequired:
        return await _sign_in_first(request)
    except ApiUnavailable as exc:
        log.warning("%s %s: API unavailable: %s", request.method, request.path, exc)
        return await error_page(request, exc.status)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return await error_page(request, 500)


@web.middleware
async def pass_cookies_back(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The cookies the APIs set (signing in, signing out) reach the browser with our answer."""
    response = await handler(request)
    client = request.get(USER_APIS)
    if client is not None:
        for cookie in client.set_cookies:
            response.headers.add("Set-Cookie", cookie)
    return response


STRIPE_JS_ORIGIN = "https://js.stripe.com"
STRIPE_SOURCES = {
    # Stripe's list for Stripe.js and its Payment Element (stripe.com/docs/security/guide).
    "script-src": "https://js.stripe.com https://*.js.stripe.com",
    "frame-src": "https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com",
    "connect-src": "https://api.stripe.com",
}


def content_security_policy(*, stripe: bool, stripe_js_url: str = STRIPE_JS_URL) -> str:
    """Our own origin only (no inline script anywhere), plus Stripe when it is in use
    (and the host of a Stripe.js stand-in, which its script calls, when configured)."""
    policy = {
        "default-src": "'self'",
        "img-src": "'self' data:",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    if stripe:
        stand_in = _origin_of(stripe_js_url)
        for directive, sources in STRIPE_SOURCES.items():
            if stand_in is not None and directive in ("script-src", "connect-src"):
                sources = f"{sources} {stand_in}"
            policy[directive] = f"'self' {sources}"
    return "; ".join(f"{directive} {sources}" for directive, sources in policy.items())


def _origin_of(stripe_js_url: str) -> str | None:
    """The origin of a Stripe.js that is not Stripe's own; None for Stripe's."""
    parts = urlsplit(stripe_js_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return None if origin == STRIPE_JS_ORIGIN else origin


def security_headers(*, stripe: bool, stripe_js_url: str = STRIPE_JS_URL) -> Middleware:
    headers = {
        "Content-Security-Policy": content_security_policy(
            stripe=stripe, stripe_js_url=stripe_js_url
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        response.headers.update(headers)
        return response

    return middleware
