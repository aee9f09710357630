"""Log lines: plain text by default, one JSON object per line with ``LOG_FORMAT=json``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from shared.config import ConfigError, Env
from shared.tracing import REQUEST_ID_HEADER, TraceLogFilter

_clock = time.time

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
        self.write_line(line)

    def write_line(self, line: str) -> None:
        """Write a line formatted already, with the records' lines, in their order."""
        with self._locked():
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
        with self._locked():
            self._scheduled = False
            self.flush()

    def _locked(self) -> contextlib.AbstractContextManager[Any]:
        # The handler's own (reentrant) lock, which logging holds around emit.
        return self.lock if self.lock is not None else contextlib.nullcontext()

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
    global _access_lines
    handler = BatchedStreamHandler(sys.stdout)
    handler.addFilter(TraceLogFilter())
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    _access_lines = AccessLines(handler, json_lines=settings.format == "json")


class AccessLines:
    """The access log's lines, formatted here as the handler's formatter would format them,
    and handed to it directly.

    A request's line through ``logging`` (a record, its filters, the formatter) cost about
    as much CPU as the rest of a small request's Python; the fields of an access line are
    fixed, so writing them needs none of it. The lines are the same (a test holds them
    so), except that no ``trace_id`` is added: the request's span has ended by then.
    """

    def __init__(self, handler: BatchedStreamHandler, *, json_lines: bool) -> None:
        self._handler = handler
        self._json = json_lines
        self._second = -1
        self._asctime = ""

    def write(self, logger: str, message: str, fields: dict[str, Any], now: float) -> None:
        if self._json:
            entry = {"ts": _utc_text(now), "level": "info", "logger": logger, "message": message}
            line = json.dumps({**entry, **fields}, default=str)
        else:
            request_id = fields.get("request_id")
            trace = f" [{request_id}]" if request_id else ""
            line = f"{self._local_time(now)} INFO {logger}{trace}: {message}"
        self._handler.write_line(line)

    def _local_time(self, now: float) -> str:
        """``logging.Formatter``'s default asctime, ``2026-01-31 12:00:00,123``."""
        second = int(now)
        if second != self._second:  # strftime once a second, not once a line
            self._second = second
            self._asctime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._asctime},{int((now - second) * 1000):03d}"


def _utc_text(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")


# Where access lines go once configure_logging has run; before, through ``logging``.
_access_lines: AccessLines | None = None


class AccessLogger(AbstractAccessLogger):
    """One line per request, with its fields also as structured data for JSON logs."""

    @property
    def enabled(self) -> bool:
        # aiohttp skips ``log`` (and timing the request) when this is False; the lines are
        # INFO, and the direct write below never asks the level, so LOG_LEVEL is asked here.
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        fields: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "status": response.status,
            "duration_ms": round(time * 1000, 1),
            "remote": request.headers.get("X-Forwarded-For", request.remote),
            # Written after the trace is unbound: the id is the one the response carries.
            "request_id": response.headers.get(REQUEST_ID_HEADER),
        }
        message = f"{request.method} {request.path_qs} {response.status} {time * 1000:.1f}ms"
        if _access_lines is None:
            self.logger.info("%s", message, extra=fields)
        else:
            _access_lines.write(self.logger.name, message, fields, _clock())
