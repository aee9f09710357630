"""tickets' HTTP app: middlewares, routes and the OpenAPI document, nothing else.

The adapters are built by ``services.tickets.bootstrap``, the only composition root.
"""

from __future__ import annotations

from aiohttp import web

from services.tickets.api.handlers import routes
from services.tickets.api.keys import DEPS, SETTINGS
from services.tickets.config import Settings
from services.tickets.service import Deps
from shared.web import Dependencies, add_openapi, identified_app


def create_app(settings: Settings, *, deps: Deps | None = None) -> web.Application:
    """The app; handlers use ``deps`` when given (tests hand in the in-memory twins).

    Without ``deps`` the caller attaches how to open them: ``bootstrap.create_service``
    sets ``app[DEPS]`` to the real adapters, opened in the background.
    """
    app = identified_app(settings.http, settings.identity)
    app[SETTINGS] = settings
    if deps is not None:
        app[DEPS] = Dependencies.given(deps)
    app.add_routes(routes)
    add_openapi(app, "/api/tickets/openapi.json", title="tickets: /api/tickets")
    return app
