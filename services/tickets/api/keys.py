"""Typed keys for what tickets' app holds."""

from aiohttp import web

from services.tickets.config import Settings
from services.tickets.service import Deps

SETTINGS = web.AppKey("settings", Settings)
DEPS = web.AppKey("deps", Deps)
