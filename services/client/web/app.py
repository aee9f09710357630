"""client's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from services.client.adapters.api import open_http
from services.client.config import Settings
from services.client.domain import money_text
from services.client.web.csrf import csrf_protection
from services.client.web.handlers import routes
from services.client.web.keys import HTTP, SETTINGS
from services.client.web.pages import error_pages, pass_cookies_back, security_headers
from shared.web import base_app

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


async def open_deps(app: web.Application) -> AsyncIterator[None]:
    """The HTTP client for the APIs, opened at startup and closed at shutdown."""
    # No readiness check on the APIs: the client is ready when it can serve pages, and
    # it shows an outage as a page of its own. (`make up` also starts the gateway, our
    # API base, only after every process is ready.)
    async with open_http(app[SETTINGS].api) as http:
        app[HTTP] = http
        yield


def create_app(settings: Settings) -> web.Application:
    app = base_app(
        settings.http,
        [
            security_headers(stripe=settings.stripe_publishable_key is not None),
            error_pages,
            pass_cookies_back,
            csrf_protection,
        ],
        json_bodies=False,  # the pages take HTML forms
    )
    app[SETTINGS] = settings
    app.cleanup_ctx.append(open_deps)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.PackageLoader("services.client", "templates"),
        # The templates ship with the code: without this, every render (and each
        # extends/include in it) stats the template file to see whether it changed.
        auto_reload=False,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        filters={"money": money_text},
        default_helpers=False,
    )
    app.add_routes(routes)
    app.router.add_static("/static", STATIC_DIR)
    return app
