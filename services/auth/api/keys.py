"""Typed keys for what auth's app holds."""

from aiohttp import web

from services.auth.config import Settings
from services.auth.service import Deps
from shared.mongo import Mongo

SETTINGS = web.AppKey("settings", Settings)
DEPS = web.AppKey("deps", Deps)
MONGO = web.AppKey("mongo", Mongo)
