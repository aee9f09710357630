"""Refusing cross-site requests that change state (issue 13, CSRF).

A browser tells us where a request comes from: ``Sec-Fetch-Site`` (Fetch Metadata) and,
on every POST and on cross-origin requests, ``Origin``. A page on another site can make
the browser post to us (a form, or a ``text/plain`` fetch, needs no CORS preflight), but it
cannot forge those two headers, nor add ``Host`` or ``X-Forwarded-Proto`` of its choosing.
So a state-changing request is refused (403) when:

- ``Sec-Fetch-Site`` is ``cross-site``;
- ``Origin`` is ``null`` (sandboxed frames, some redirects: no site we can trust);
- ``Origin`` is neither the request's own origin (the scheme from ``X-Forwarded-Proto``
  behind the gateway, else the connection's, with the ``Host`` header) nor in
  ``ALLOWED_ORIGINS``.

A request with neither header (curl, another service, Stripe's webhook) passes: only a
browser sends them, and a browser always does on a cross-site POST.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from shared.config import ConfigError
from shared.web.errors import Forbidden

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}
CROSS_SITE_MESSAGE = "Cross-site requests are not allowed"


@dataclass(frozen=True)
class Origin:
    """A web origin: scheme, host and port (the default port spelled out)."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Origin | None:
        """``scheme://host[:port]`` as a browser sends it; None for anything else."""
        try:
            parts = urlsplit(text.strip())
            port = parts.port
        except ValueError:  # a port that is not a number, an unbalanced "[" ...
            return None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            return None
        if parts.path or parts.query or parts.fragment or parts.username is not None:
            return None
        return cls(scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme])

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_origins(name: str, text: str) -> frozenset[Origin]:
    """A setting's comma- or space-separated origins; ConfigError names a bad one."""
    origins = set()
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        origin = Origin.parse(item)
        if origin is None:
            raise ConfigError(f"{name} takes origins like https://tickets.example, got {item!r}")
        origins.add(origin)
    return frozenset(origins)


def own_origin(request: web.Request) -> Origin | None:
    """The origin the browser addressed: behind the gateway, its scheme and our Host."""
    host = request.headers.get("Host", "")
    # The gateway (and ingress-nginx) set X-Forwarded-Proto; a browser on another site
    # cannot, so trusting it here lets no attacker in.
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
    scheme = forwarded or request.scheme
    return Origin.parse(f"{scheme}://{host}") if host else None


def is_cross_site(request: web.Request, allowed: frozenset[Origin] = frozenset()) -> bool:
    """Whether a browser sent this request from a page of another origin."""
    if request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site":
        return True
    origin_header = request.headers.get("Origin")
    if origin_header is None:
        return False
    origin = Origin.parse(origin_header)  # "null" parses to None: refused
    return origin is None or (origin != own_origin(request) and origin not in allowed)


def same_origin_only(allowed: frozenset[Origin] = frozenset()) -> Middleware:
    """403 for a state-changing request from another site; reads pass untouched."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in UNSAFE_METHODS and is_cross_site(request, allowed):
            raise Forbidden(CROSS_SITE_MESSAGE)
        return await handler(request)

    return middleware
