"""``GET /healthz`` (the process answers) and ``GET /readyz`` (its dependencies do).

Each resource registers a readiness check with ``add_readiness_check``; a check is an
async callable that raises when its dependency is not usable.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from shared.errors import AppError

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, ReadinessCheck])
CHECK_TIMEOUT_S = 2.0

health_routes = web.RouteTableDef()


def add_readiness_check(app: web.Application, name: str, check: ReadinessCheck) -> None:
    app[READINESS_CHECKS][name] = check


@health_routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _run(name: str, check: ReadinessCheck) -> tuple[str, str]:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_S)
    except AppError as exc:  # a check's own words for why (these pages are internal)
        log.warning("readiness check %s failed: %s", name, exc.message)
        return name, f"down: {exc.message}"
    except Exception as exc:  # any other failure means "not ready" too
        log.warning("readiness check %s failed: %r", name, exc)
        return name, f"down: {type(exc).__name__}"
    return name, "ok"


@health_routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    checks = request.app.get(READINESS_CHECKS, {})
    results = dict(await asyncio.gather(*(_run(n, c) for n, c in checks.items())))
    ready = all(result == "ok" for result in results.values())
    return web.json_response(
        {"status": "ready" if ready else "not ready", "checks": results},
        status=200 if ready else 503,
    )
