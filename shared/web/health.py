"""``GET /healthz`` (the process answers) and ``GET /readyz`` (its dependencies do).

Each resource registers a readiness check with ``add_readiness_check``; a check is an
async callable that raises when its dependency is not usable. A *note* (``add_readiness_note``)
never makes a process unready: it says what a ready process is doing, e.g. ``rebuilding``
a replica, in the body's ``status`` while the answer stays 200, so a load balancer keeps
routing to it (docs/rebuild.md).

With ``MANAGEMENT_PORT`` set (the Helm chart), the probes and ``/metrics`` are served on that
port only, and it serves nothing else: the main port, the one an ingress routes to, answers
404 for them, so no ingress rule can expose them. Unset, both are on the main port.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from shared.config import ConfigError, Env
from shared.errors import AppError

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
READINESS_CHECKS = web.AppKey("readiness_checks", dict[str, ReadinessCheck])


@dataclass(frozen=True)
class Note:
    """What a ready process is doing: ``status`` replaces ``ready`` in the body."""

    status: str  # e.g. "rebuilding"
    detail: str  # e.g. "tickets"


ReadinessNote = Callable[[], Awaitable[Note | None]]
READINESS_NOTES = web.AppKey("readiness_notes", dict[str, ReadinessNote])
CHECK_TIMEOUT_S = 2.0

health_routes = web.RouteTableDef()

# What a management port serves (metrics.py serves /metrics).
MANAGEMENT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class ManagementSettings:
    """``MANAGEMENT_PORT``: where the probes and metrics are served; None: the main port."""

    port: int | None = None

    @classmethod
    def from_env(cls, env: Env, *, main_port: int) -> ManagementSettings:
        if env.optional("MANAGEMENT_PORT") is None:
            return cls()
        port = env.int("MANAGEMENT_PORT", minimum=1)
        if port == main_port:
            raise ConfigError(f"MANAGEMENT_PORT must differ from PORT, both are {port}")
        return cls(port=port)


def management_only(management_port: int) -> Middleware:
    """Probes and metrics on ``management_port`` only, and nothing else there."""

    @web.middleware
    async def split(request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        sockname = transport.get_extra_info("sockname") if transport is not None else None
        on_management_port = sockname is not None and sockname[1] == management_port
        if on_management_port != (request.path in MANAGEMENT_PATHS):
            # Answered here, so it holds wherever in the chain this middleware stands.
            return web.json_response({"errors": [{"message": "Not Found"}]}, status=404)
        return await handler(request)

    return split


def add_readiness_check(app: web.Application, name: str, check: ReadinessCheck) -> None:
    app[READINESS_CHECKS][name] = check


def add_readiness_note(app: web.Application, name: str, note: ReadinessNote) -> None:
    """Report ``note`` under ``name`` in ``/readyz`` (when it says something); never unready."""
    app[READINESS_NOTES][name] = note


async def _noted(name: str, note: ReadinessNote) -> tuple[str, Note | None]:
    try:
        return name, await asyncio.wait_for(note(), CHECK_TIMEOUT_S)
    except Exception as exc:  # a note that cannot be read says nothing; readiness is the checks'
        log.warning("readiness note %s failed: %r", name, exc)
        return name, None


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


async def readiness(app: web.Application) -> dict[str, str]:
    """Every readiness check of ``app`` by name: ``"ok"`` or ``"down: <why>"``."""
    checks = app.get(READINESS_CHECKS, {})
    return dict(await asyncio.gather(*(_run(n, c) for n, c in checks.items())))


@health_routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    results = await readiness(request.app)
    ready = all(result == "ok" for result in results.values())
    notes = request.app.get(READINESS_NOTES, {})
    said = {n: s for n, s in await asyncio.gather(*(_noted(*item) for item in notes.items())) if s}
    status = "ready" if ready else "not ready"
    if ready and said:
        status = ", ".join(sorted({note.status for note in said.values()}))
    results.update({name: f"{note.status} {note.detail}" for name, note in said.items()})
    return web.json_response({"status": status, "checks": results}, status=200 if ready else 503)
