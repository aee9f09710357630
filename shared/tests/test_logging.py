"""Log lines leave in batches: one write per event-loop iteration, in the order logged."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
from collections.abc import Iterator

import pytest

from shared.logging import BatchedStreamHandler


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
