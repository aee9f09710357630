"""Typed keys for what auth's app holds."""

from aiohttp import web

from services.auth.config import Settings
from services.auth.service import Deps
from shared.web import Dependencies

SETTINGS = web.AppKey("settings", Settings)
DEPS: web.AppKey[Dependencies[Deps]] = web.AppKey("deps")
