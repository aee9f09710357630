"""payments' HTTP app: routes, identity, OpenAPI; the dependencies are handed in."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext

from aiohttp import web

from services.payments.api.handlers import routes
from services.payments.api.keys import DEPS, SETTINGS
from services.payments.config import Settings
from services.payments.service import Deps
from shared.auth import REVOKED_SESSIONS, RevokedSessions, identity_middlewares
from shared.web import add_openapi, base_app, open_in_background

# How to open the dependencies, given the app (for its readiness checks and keys).
OpenDeps = Callable[[web.Application], AbstractAsyncContextManager[Deps]]


def create_app(settings: Settings, *, deps: Deps | OpenDeps) -> web.Application:
    """The app on ``deps``: ready ones (a test's), or how to open them (``bootstrap``'s:
    in a background task from startup on, retried, so that until then handlers answer 503)."""
    revoked = RevokedSessions()
    app = base_app(settings.http, identity_middlewares(settings.identity, revoked))
    app[REVOKED_SESSIONS] = revoked
    app[SETTINGS] = settings
    app[DEPS] = open_in_background(app, _given(deps) if isinstance(deps, Deps) else deps)
    app.add_routes(routes)
    add_openapi(app, "/api/payments/openapi.json", title="payments: /api/payments")
    return app


def _given(deps: Deps) -> OpenDeps:
    return lambda app: nullcontext(deps)
