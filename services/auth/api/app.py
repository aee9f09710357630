"""auth's app factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext

from aiohttp import web

from services.auth.adapters.passwords import AroundHash, PasswordHasher
from services.auth.adapters.revocations import MongoRevocationLog
from services.auth.adapters.users import MongoUserRepository, create_indexes
from services.auth.api.handlers import routes
from services.auth.api.keys import DEPS, SETTINGS
from services.auth.config import SERVICE, Settings
from services.auth.service import Deps
from shared.auth import (
    REVOKED_SESSIONS,
    RevokedSessions,
    TokenSigner,
    denylist_kept_fresh,
    identity_middlewares,
)
from shared.backends import open_backends
from shared.web import add_openapi, base_app, open_in_background

HASHER = web.AppKey("hasher", PasswordHasher)


@asynccontextmanager
async def open_deps(app: web.Application) -> AsyncIterator[Deps]:
    """The real adapters, opened in the background from startup on, closed at shutdown.

    auth consumes nothing; messaging is for its outbox (``session.revoked``).
    """
    settings = app[SETTINGS]
    async with (
        open_backends(
            app, settings.mongo, settings.amqp, service=SERVICE, setup=create_indexes
        ) as backends,
        denylist_kept_fresh(
            backends.mongo.db, app[REVOKED_SESSIONS], settings.identity.revocation_refresh_s
        ) as revocations,
    ):
        yield Deps(
            users=MongoUserRepository(backends.mongo.db),
            signer=TokenSigner(settings.jwt_private_key, ttl_s=settings.jwt_ttl_s),
            revocations=MongoRevocationLog(backends.uow, revocations, app[REVOKED_SESSIONS]),
            hasher=app[HASHER],
        )


def create_app(settings: Settings, *, around_hash: AroundHash = nullcontext) -> web.Application:
    """``around_hash`` is for tests: entered around each scrypt, in its worker thread."""
    revoked = RevokedSessions()
    app = base_app(settings.http, identity_middlewares(settings.identity, revoked))
    app[REVOKED_SESSIONS] = revoked
    app[SETTINGS] = settings
    # One for the app's lifetime, not one per attempt at opening the backends: its bound
    # on hashes at once is per process.
    app[HASHER] = PasswordHasher(settings.hashing, around_hash=around_hash)
    app[DEPS] = open_in_background(app, open_deps)
    app.add_routes(routes)
    add_openapi(app, "/api/users/openapi.json", title="auth: /api/users")
    return app
