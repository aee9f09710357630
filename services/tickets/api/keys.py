"""Typed keys for what tickets' app holds."""

from aiohttp import web

from services.tickets.config import Settings
from services.tickets.service import Deps
from shared.web import Dependencies

SETTINGS = web.AppKey("settings", Settings)
DEPS: web.AppKey[Dependencies[Deps]] = web.AppKey("deps")
