"""Typed keys for what orders' app holds."""

from aiohttp import web

from services.orders.config import Settings
from services.orders.service import Deps

SETTINGS = web.AppKey("settings", Settings)
DEPS = web.AppKey("deps", Deps)
