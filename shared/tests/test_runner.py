"""The event loop a service process runs on: uvloop's where installed, asyncio's on request."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from shared.config import ConfigError, Env
from shared.runner import event_loop


def loop_for(**variables: str) -> asyncio.AbstractEventLoop:
    loop = event_loop(Env(variables))
    loop.close()
    return loop


def test_uvloop_runs_the_service_when_it_is_installed() -> None:
    assert isinstance(loop_for(), uvloop.Loop)
    assert isinstance(loop_for(EVENT_LOOP="uvloop"), uvloop.Loop)


def test_asyncio_s_loop_on_request() -> None:
    loop = loop_for(EVENT_LOOP="asyncio")

    assert not isinstance(loop, uvloop.Loop)
    assert isinstance(loop, asyncio.BaseEventLoop)


def test_without_uvloop_auto_falls_back_and_uvloop_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what an install without it imports

    assert not isinstance(loop_for(), uvloop.Loop)
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        loop_for(EVENT_LOOP="uvloop")


def test_an_unknown_event_loop_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="EVENT_LOOP must be one of auto, uvloop, asyncio"):
        loop_for(EVENT_LOOP="trio")
