"""Typed keys for what payments' app holds."""

from aiohttp import web

from services.payments.config import Settings
from services.payments.service import Deps

SETTINGS = web.AppKey("settings", Settings)
DEPS = web.AppKey("deps", Deps)
