"""Log lines: plain text by default, one JSON object per line with ``LOG_FORMAT=json``."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from shared.config import ConfigError, Env
from shared.tracing import REQUEST_ID_HEADER, TraceLogFilter

# Attributes every LogRecord has; anything else was passed with `extra=` and is data.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "trace"}


@dataclass(frozen=True)
class LogSettings:
    format: str = "text"
    level: str = "INFO"

    @classmethod
    def from_env(cls, env: Env) -> LogSettings:
        fmt = env.str("LOG_FORMAT", "text").lower()
        if fmt not in {"text", "json"}:
            raise ConfigError(f"LOG_FORMAT must be text or json, got {fmt!r}")
        level = env.str("LOG_LEVEL", "INFO").upper()
        if level not in logging.getLevelNamesMapping():
            raise ConfigError(f"LOG_LEVEL must be a logging level name, got {level!r}")
        return cls(format=fmt, level=level)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS})
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request id]: message``; the id only while a request is traced."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(trace)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.trace = f" [{request_id}]" if request_id else ""
        return super().format(record)


def configure_logging(settings: LogSettings) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(TraceLogFilter())
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)


class AccessLogger(AbstractAccessLogger):
    """One line per request, with its fields also as structured data for JSON logs."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status,
            "duration_ms": round(time * 1000, 1),
            "remote": request.headers.get("X-Forwarded-For", request.remote),
            # Written after the trace is unbound: the id is the one the response carries.
            "request_id": response.headers.get(REQUEST_ID_HEADER),
        }
        self.logger.info(
            "%s %s %s %.1fms",
            request.method,
            request.path_qs,
            response.status,
            time * 1000,
            extra=fields,
        )
