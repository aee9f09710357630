"""auth's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from services.auth.adapters.users import MongoUserRepository, create_indexes
from services.auth.api.handlers import routes
from services.auth.api.keys import DEPS, SETTINGS
from services.auth.config import Settings
from services.auth.service import Deps
from shared.auth import TokenSigner, identity_middlewares
from shared.mongo import open_mongo
from shared.web import add_openapi, add_readiness_check, base_app, open_in_background


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[Deps]:
    """The real adapters, opened in the background from startup on, closed at shutdown."""
    settings = app[SETTINGS]
    async with open_mongo(settings.mongo, create_indexes) as mongo:
        add_readiness_check(app, "mongo", mongo.ping)
        yield Deps(
            users=MongoUserRepository(mongo.db),
            signer=TokenSigner(settings.jwt_private_key, ttl_s=settings.jwt_ttl_s),
        )


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings.http, identity_middlewares(settings.identity))
    app[SETTINGS] = settings
    app[DEPS] = open_in_background(app, open_deps)
    app.add_routes(routes)
    add_openapi(app, "/api/users/openapi.json", title="auth: /api/users")
    return app
