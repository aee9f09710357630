"""auth's composition root: the only place that builds adapters from settings and starts
what runs in the background (the outbox relay for ``session.revoked``, the revocation
denylist's refresh). auth consumes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from functools import partial

from aiohttp import web

from services.auth.adapters.passwords import AroundHash, PasswordHasher
from services.auth.adapters.revocations import MongoRevocationLog
from services.auth.adapters.users import MongoUserRepository, create_indexes
from services.auth.api.app import create_app
from services.auth.api.keys import DEPS, SETTINGS
from services.auth.config import SERVICE, Settings
from services.auth.service import Deps
from shared.auth import REVOKED_SESSIONS, TokenSigner
from shared.backends import open_backends
from shared.web import open_in_background

HASHER = web.AppKey("hasher", PasswordHasher)


@asynccontextmanager
async def open_deps(app: web.Application, *, hasher: PasswordHasher) -> AsyncIterator[Deps]:
    """The real adapters, opened in the background from startup on, closed at shutdown."""
    settings = app[SETTINGS]
    async with open_backends(app, settings, service=SERVICE, setup=create_indexes) as backends:
        yield Deps(
            users=MongoUserRepository(backends.mongo.db),
            signer=TokenSigner(settings.jwt_private_key, ttl_s=settings.jwt_ttl_s),
            revocations=MongoRevocationLog(
                backends.uow, backends.revocations, app[REVOKED_SESSIONS]
            ),
            hasher=hasher,
        )


def create_service(settings: Settings, *, around_hash: AroundHash = nullcontext) -> web.Application:
    """The HTTP app, with the real adapters opened (and retried) in the background.

    ``around_hash`` is for tests: entered around each scrypt, in its worker thread.
    """
    app = create_app(settings)
    # One for the app's lifetime, not one per attempt at opening the backends: its bound
    # on hashes at once is per process.
    hasher = PasswordHasher(settings.hashing, around_hash=around_hash)
    app[HASHER] = hasher
    app[DEPS] = open_in_background(app, partial(open_deps, hasher=hasher))
    return app
