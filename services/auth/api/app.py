"""auth's HTTP app: middlewares, routes and the OpenAPI document, nothing else.

The adapters are built by ``services.auth.bootstrap``, the only composition root.
"""

from __future__ import annotations

from aiohttp import web

from services.auth.api.handlers import routes
from services.auth.api.keys import DEPS, SETTINGS
from services.auth.config import Settings
from services.auth.service import Deps
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
    add_openapi(app, "/api/users/openapi.json", title="auth: /api/users")
    return app
