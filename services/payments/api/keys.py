"""Typed keys for what payments' app holds."""

from aiohttp import web

from services.payments.config import Settings
from services.payments.service import Deps
from shared.web import Dependencies

SETTINGS = web.AppKey("settings", Settings)
DEPS: web.AppKey[Dependencies[Deps]] = web.AppKey("deps")
