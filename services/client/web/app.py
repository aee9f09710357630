"""client's app factory: the pages, their middlewares, templates and static files."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from services.client.config import Settings
from services.client.domain import money_text
from services.client.ports import Apis
from services.client.web.csrf import csrf_protection
from services.client.web.handlers import routes
from services.client.web.keys import APIS, SETTINGS
from services.client.web.middlewares import error_pages, pass_cookies_back, security_headers
from shared.web import base_app

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def create_app(settings: Settings, *, deps: Apis | None = None) -> web.Application:
    """The pages' HTTP app. ``deps`` are the APIs the pages call: a test hands in its own;
    ``bootstrap.create_service`` leaves them out and opens them at startup."""
    app = base_app(
        settings.http,
        [
            security_headers(
                stripe=settings.stripe_publishable_key is not None,
                stripe_js_url=settings.stripe_js_url,
            ),
            error_pages,
            pass_cookies_back,
            csrf_protection,
        ],
        json_bodies=False,  # the pages take HTML forms
    )
    app[SETTINGS] = settings
    if deps is not None:
        app[APIS] = deps
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
