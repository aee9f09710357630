"""Log lines leave in batches, one write per event-loop iteration, in the order logged; the
access log writes its lines itself, the same lines as through ``logging``."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer, make_mocked_request

import shared.logging
from shared.logging import (
    AccessLines,
    AccessLogger,
    BatchedStreamHandler,
    JsonFormatter,
    TextFormatter,
)
from shared.tracing import REQUEST_ID_HEADER, TraceLogFilter


class CountingStream(io.StringIO):
    """A text stream that counts the writes it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, CountingStream]]:
    stream = CountingStream()
    handler = BatchedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(f"batched-{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


async def test_the_lines_of_one_loop_iteration_leave_in_one_write_after_it(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged
    for number in range(5):
        logger.info("line %d", number)
    assert stream.getvalue() == ""  # the iteration is not over

    await asyncio.sleep(0)  # let the loop run the scheduled write

    assert stream.getvalue() == "".join(f"line {n}\n" for n in range(5))
    assert stream.writes == 1
    logger.info("next")
    await asyncio.sleep(0)
    assert stream.getvalue().endswith("line 4\nnext\n")
    assert stream.writes == 2


def test_without_a_running_loop_a_line_is_written_at_once(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged

    logger.info("alone")

    assert stream.getvalue() == "alone\n"


async def test_a_line_from_another_thread_goes_after_the_waiting_ones(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged
    logger.info("first, in the loop")
    thread = threading.Thread(target=logger.info, args=("second, from a thread",))
    thread.start()
    thread.join()

    assert stream.getvalue() == "first, in the loop\nsecond, from a thread\n"
    await asyncio.sleep(0)
    assert stream.getvalue() == "first, in the loop\nsecond, from a thread\n"


async def test_flushing_writes_what_waits(logged: tuple[logging.Logger, CountingStream]) -> None:
    logger, stream = logged
    logger.info("at shutdown")
    handler = next(h for h in logger.handlers if isinstance(h, BatchedStreamHandler))

    handler.flush()  # what logging.shutdown does at exit

    assert stream.getvalue() == "at shutdown\n"


# ---------------------------------------------------------------- the access log


def access_line(monkeypatch: pytest.MonkeyPatch, *, json_lines: bool, direct: bool) -> str:
    """The line one request leaves, through ``logging`` or written directly."""
    stream = CountingStream()
    handler = BatchedStreamHandler(stream)
    handler.addFilter(TraceLogFilter())
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    # One name for both calls: it is in the line, and id(stream) may differ between them.
    logger = logging.getLogger("test-access-line")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    lines = AccessLines(handler, json_lines=json_lines) if direct else None
    monkeypatch.setattr(shared.logging, "_access_lines", lines)
    request = make_mocked_request(
        "GET", "/api/tickets?page=2", headers={"X-Forwarded-For": "203.0.113.9"}
    )
    response = web.Response(status=404, headers={REQUEST_ID_HEADER: "req-42"})

    AccessLogger(logger, "").log(request, response, 0.01234)

    logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize("json_lines", [False, True])
def test_an_access_line_written_directly_is_the_one_logging_writes(
    monkeypatch: pytest.MonkeyPatch, json_lines: bool
) -> None:
    logged = access_line(monkeypatch, json_lines=json_lines, direct=False)
    direct = access_line(monkeypatch, json_lines=json_lines, direct=True)

    if json_lines:
        logged_entry, direct_entry = json.loads(logged), json.loads(direct)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", direct_entry.pop("ts"))
        logged_entry.pop("ts")
        assert direct_entry == logged_entry
        assert direct_entry["request_id"] == "req-42"
        assert direct_entry["path"] == "/api/tickets"
    else:
        # The time first (23 characters), then the same words.
        assert direct[23:] == logged[23:]
        assert direct[23:].endswith(" [req-42]: GET /api/tickets?page=2 404 12.3ms\n")


def test_the_direct_line_s_time_is_logging_s_asctime() -> None:
    lines = AccessLines(BatchedStreamHandler(io.StringIO()), json_lines=False)
    for created in (1767225600.0, 1767225600.999, 1767225601.5004):
        record = logging.makeLogRecord({"created": created, "msecs": int(created % 1 * 1000)})

        assert lines._local_time(created) == logging.Formatter().formatTime(record)


def hello_app() -> web.Application:
    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    return app


async def test_the_access_log_writes_nothing_below_its_level(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = CountingStream()
    handler = BatchedStreamHandler(stream)
    handler.setFormatter(TextFormatter())
    monkeypatch.setattr(shared.logging, "_access_lines", AccessLines(handler, json_lines=False))
    # One name for both calls: it is in the line, and id(stream) may differ between them.
    logger = logging.getLogger("test-access-line")
    logger.propagate = False
    logger.addHandler(handler)

    for level in (logging.WARNING, logging.INFO):  # LOG_LEVEL=WARNING, then INFO
        logger.setLevel(level)
        server = TestServer(hello_app())
        # Started here: a TestServer hands its own keyword arguments to no runner.
        await server.start_server(access_log=logger, access_log_class=AccessLogger)
        client = await aiohttp_client(server)
        assert (await client.get("/")).status == 200
        await client.close()
    handler.flush()

    logger.removeHandler(handler)
    assert stream.getvalue().count("GET / 200") == 1
