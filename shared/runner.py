"""Running a service process: settings once, logging, the HTTP app until a signal."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import NoReturn, Protocol, TypeVar

from aiohttp import web

from shared.config import ConfigError, masked
from shared.logging import AccessLogger, LogSettings, configure_logging
from shared.web.app import HttpSettings

log = logging.getLogger(__name__)


class ServiceSettings(Protocol):
    @property
    def http(self) -> HttpSettings: ...

    @property
    def log(self) -> LogSettings: ...


S = TypeVar("S", bound=ServiceSettings)


def load_or_exit(name: str, from_env: Callable[[], S]) -> S:
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
    configure_logging(settings.log)
    log.info("starting %s with settings %s", name, json.dumps(masked(settings), default=str))
    web.run_app(
        create_app(settings),
        host=settings.http.host,
        port=settings.http.port,
        access_log_class=AccessLogger,
        shutdown_timeout=settings.http.shutdown_timeout_s,
        print=lambda message: log.info("%s", message),
    )
    raise SystemExit(0)
