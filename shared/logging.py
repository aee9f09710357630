"""Log lines: plain text by default, one JSON object per line with ``LOG_FORMAT=json``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

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


class BatchedStreamHandler(logging.StreamHandler[TextIO]):
    """A stream handler that writes the lines of one event-loop iteration in one write.

    Writing and flushing every line was a third of a small request's CPU, the access log's
    line included (the image runs unbuffered, so each line was a system call). Lines logged
    in the loop's thread wait for the end of the current iteration: nothing is held back
    while the loop idles, and a crash loses at most the lines of that iteration. Lines
    from any other thread (or with no loop running) are written at once, after the waiting
    ones, so the order is kept.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._pending.append(line)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._write_pending)

    def _write_pending(self) -> None:
        with self.lock if self.lock is not None else contextlib.nullcontext():
            self._scheduled = False
            self.flush()

    def flush(self) -> None:
        """Write what waits (logging's shutdown calls this too), then flush the stream."""
        if self._pending:
            text = self.terminator.join(self._pending) + self.terminator
            self._pending.clear()
            try:
                self.stream.write(text)
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": "writing log lines failed"}))
        super().flush()


def configure_logging(settings: LogSettings) -> None:
    handler = BatchedStreamHandler(sys.stdout)
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
