"""Typed keys for what client's app and requests hold."""

import aiohttp
from aiohttp import web

from services.client.adapters.api import ApiClient
from services.client.config import Settings

SETTINGS = web.AppKey("settings", Settings)
HTTP = web.AppKey("http", aiohttp.ClientSession)
API = web.RequestKey("api", ApiClient)
