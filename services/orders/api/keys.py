"""Typed keys for what orders' app holds."""

from aiohttp import web

from services.orders.config import Settings
from services.orders.service import Deps
from shared.web import Dependencies

SETTINGS = web.AppKey("settings", Settings)
DEPS: web.AppKey[Dependencies[Deps]] = web.AppKey("deps")
