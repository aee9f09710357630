"""The HTTP side of both expiration processes: /healthz, /readyz and /metrics only.

What runs behind it (the listener's consumer, the worker's arq worker) is built and
started by ``services.expiration.bootstrap``, the only composition root.
"""

from __future__ import annotations

from aiohttp import web

from services.expiration.config import Settings
from shared.web import base_app

SETTINGS = web.AppKey("settings", Settings)


def create_app(settings: Settings) -> web.Application:
    app = base_app(settings.http)
    app[SETTINGS] = settings
    return app
