"""Typed keys for what client's app and requests hold."""

from aiohttp import web

from services.client.config import Settings
from services.client.ports import Apis, UserApis

SETTINGS = web.AppKey("settings", Settings)
APIS: web.AppKey[Apis] = web.AppKey("apis")
USER_APIS: web.RequestKey[UserApis] = web.RequestKey("user_apis")
