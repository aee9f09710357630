"""Running a service process: settings once, logging, traces if an OTLP endpoint is set,
the HTTP app until a signal."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from collections.abc import Callable
from typing import NoReturn, Protocol, TypeVar

from aiohttp import web

from shared.config import ConfigError, Env, masked
from shared.logging import AccessLogger, LogSettings, configure_logging
from shared.telemetry import setup_telemetry
from shared.web.app import HttpSettings
from shared.web.health import ManagementSettings, management_only

log = logging.getLogger(__name__)


class ServiceSettings(Protocol):
    @property
    def http(self) -> HttpSettings: ...

    @property
    def log(self) -> LogSettings: ...


S = TypeVar("S", bound=ServiceSettings)
T = TypeVar("T")


def load_or_exit(name: str, from_env: Callable[[], T]) -> T:
    """The settings, or one line on stderr naming the bad variable and exit status 2."""
    try:
        return from_env()
    except ConfigError as exc:
        print(f"{name}: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run_service(
    name: str, from_env: Callable[[], S], create_app: Callable[[S], web.Application]
) -> NoReturn:
    settings = load_or_exit(name, from_env)
    management = load_or_exit(
        name, lambda: ManagementSettings.from_env(Env(), main_port=settings.http.port)
    )
    configure_logging(settings.log)
    log.info("starting %s with settings %s", name, json.dumps(masked(settings), default=str))
    # Before the app: the instrumentations patch what create_app and its clients build.
    load_or_exit(name, lambda: setup_telemetry(name))
    app = create_app(settings)
    management_socket = None
    if management.port is not None:
        log.info("probes and metrics on management port %d only", management.port)
        # First, so that nothing else runs for a request on the wrong port.
        app.middlewares.insert(0, management_only(management.port))
        management_socket = listening_socket(settings.http.host, management.port)
    loop = load_or_exit(name, lambda: event_loop(Env()))
    log.info("event loop: %s", type(loop).__module__.split(".")[0])
    web.run_app(
        app,
        loop=loop,
        host=settings.http.host,
        port=settings.http.port,
        sock=management_socket,
        access_log_class=AccessLogger,
        shutdown_timeout=settings.http.shutdown_timeout_s,
        print=lambda message: log.info("%s", message),
    )
    raise SystemExit(0)


EVENT_LOOPS = ("auto", "uvloop", "asyncio")


def event_loop(env: Env) -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (setup.cfg asks for it where it builds), else
    asyncio's. ``EVENT_LOOP=asyncio`` picks asyncio's; ``EVENT_LOOP=uvloop`` refuses to
    start without uvloop rather than run slower unnoticed."""
    choice = env.str("EVENT_LOOP", "auto").lower()
    if choice not in EVENT_LOOPS:
        raise ConfigError(f"EVENT_LOOP must be one of {', '.join(EVENT_LOOPS)}, got {choice!r}")
    if choice != "asyncio":
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise ConfigError("EVENT_LOOP is uvloop but uvloop is not installed") from None
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening TCP socket; run_app serves the app on it next to host:port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)
