"""client's settings, read once from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.config import ConfigError, Env, mask_url
from shared.logging import LogSettings
from shared.web import HttpSettings


def _http_url(env: Env, name: str, default: str | None = None) -> str:
    url = env.str(name, default) if default is not None else env.str(name)
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {mask_url(url)!r}")
    return url.rstrip("/")


@dataclass(frozen=True)
class ApiSettings:
    """Where the client finds each API, server-side.

    ``API_BASE_URL`` (the gateway) serves all four; a cluster may point each one at its
    Service instead (``AUTH_API_URL`` ...), which keeps the page renders off the ingress.
    """

    auth_url: str
    tickets_url: str
    orders_url: str
    payments_url: str
    timeout_s: float = 10.0

    @classmethod
    def at(cls, base_url: str, *, timeout_s: float = 10.0) -> ApiSettings:
        """Every API behind one gateway."""
        base = base_url.rstrip("/")
        return cls(base, base, base, base, timeout_s=timeout_s)

    @classmethod
    def from_env(cls, env: Env) -> ApiSettings:
        base = _http_url(env, "API_BASE_URL")
        return cls(
            auth_url=_http_url(env, "AUTH_API_URL", base),
            tickets_url=_http_url(env, "TICKETS_API_URL", base),
            orders_url=_http_url(env, "ORDERS_API_URL", base),
            payments_url=_http_url(env, "PAYMENTS_API_URL", base),
            timeout_s=env.float("API_TIMEOUT_SECONDS", cls.timeout_s, minimum=0.1),
        )


STRIPE_JS_URL = "https://js.stripe.com/v3/"


@dataclass(frozen=True)
class Settings:
    http: HttpSettings
    log: LogSettings
    api: ApiSettings
    # Public by design (the browser gets it). Without it the order page offers an
    # offline test-card form instead of Stripe's Payment Element.
    stripe_publishable_key: str | None = None
    # Where the page loads Stripe.js from: Stripe's own host, except for offline browser
    # tests, which load the Stripe emulator's stand-in (its origin joins the CSP).
    stripe_js_url: str = STRIPE_JS_URL
    # The CSRF cookie's Secure flag and __Host- name, as for the session cookie.
    cookie_secure: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = Env(os.environ if environ is None else environ)
        return cls(
            http=HttpSettings.from_env(env),
            log=LogSettings.from_env(env),
            api=ApiSettings.from_env(env),
            stripe_publishable_key=env.optional("STRIPE_PUBLISHABLE_KEY"),
            stripe_js_url=env.str("STRIPE_JS_URL", STRIPE_JS_URL),
            cookie_secure=env.bool("COOKIE_SECURE", True),
        )
