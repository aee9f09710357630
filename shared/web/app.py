"""The base application every service builds on, and its HTTP settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

from shared.auth import REVOKED_SESSIONS, IdentitySettings, RevokedSessions, identity_middlewares
from shared.config import Env
from shared.web.csrf import Origin, parse_origins, same_origin_only
from shared.web.errors import error_middleware
from shared.web.health import READINESS_CHECKS, READINESS_NOTES, health_routes
from shared.web.metrics import metrics_middleware, metrics_routes
from shared.web.requests import json_bodies_only
from shared.web.tracing import trace_middleware


@dataclass(frozen=True)
class HttpSettings:
    host: str = "0.0.0.0"
    port: int = 3000
    max_body_bytes: int = 64 * 1024
    shutdown_timeout_s: float = 10.0
    # Origins besides the request's own whose pages may post to us (shared.web.csrf).
    allowed_origins: frozenset[Origin] = field(default_factory=frozenset)

    @classmethod
    def from_env(cls, env: Env, *, default_port: int = 3000) -> HttpSettings:
        return cls(
            host=env.str("HOST", "0.0.0.0"),
            port=env.int("PORT", default_port, minimum=0),
            max_body_bytes=env.int("MAX_BODY_BYTES", 64 * 1024, minimum=1024),
            shutdown_timeout_s=env.float("SHUTDOWN_TIMEOUT_SECONDS", 10.0),
            allowed_origins=parse_origins("ALLOWED_ORIGINS", env.str("ALLOWED_ORIGINS", "")),
        )


def base_app(
    http: HttpSettings, middlewares: Iterable[Middleware] = (), *, json_bodies: bool = True
) -> web.Application:
    """An app with tracing, metrics and the error middleware first, the body limit, and the
    health and metrics routes. It refuses cross-site state changes, and with
    ``json_bodies`` (an API) any body that is not JSON."""
    # Last, so that an app's own error rendering (the client's pages) answers for them.
    refusals = [same_origin_only(http.allowed_origins)]
    if json_bodies:
        refusals.append(json_bodies_only)
    app = web.Application(
        middlewares=[
            trace_middleware,
            metrics_middleware,
            error_middleware,
            *middlewares,
            *refusals,
        ],
        client_max_size=http.max_body_bytes,
    )
    app[READINESS_CHECKS] = {}
    app[READINESS_NOTES] = {}
    app.add_routes(health_routes)
    app.add_routes(metrics_routes)
    return app


def identified_app(http: HttpSettings, identity: IdentitySettings) -> web.Application:
    """An API service's base app: ``base_app`` with the session cookie and current user,
    whose denylist (``app[REVOKED_SESSIONS]``) ``shared.backends`` keeps fresh."""
    revoked = RevokedSessions()
    app = base_app(http, identity_middlewares(identity, revoked))
    app[REVOKED_SESSIONS] = revoked
    return app
