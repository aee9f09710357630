"""client's composition root: the only place that builds its adapter, the APIs' HTTP
client, from settings."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from services.client.adapters.api_client import open_api_clients
from services.client.config import Settings
from services.client.web.app import create_app
from services.client.web.keys import APIS


def create_service(settings: Settings) -> web.Application:
    """The pages with the APIs' HTTP client, opened at startup and closed at shutdown."""
    app = create_app(settings)

    async def apis_open(app: web.Application) -> AsyncIterator[None]:
        # No readiness check on the APIs: the client is ready when it can serve pages, and
        # it shows an outage as a page of its own. (`make up` also starts the gateway, our
        # API base, only after every process is ready.)
        async with open_api_clients(settings.api) as apis:
            app[APIS] = apis
            yield

    app.cleanup_ctx.append(apis_open)
    return app
