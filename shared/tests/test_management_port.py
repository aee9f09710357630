"""MANAGEMENT_PORT: a real process started by ``run_service`` serves its probes and metrics on
that port only, so an ingress routing to the main port can never expose them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import pytest

from shared.testing.poll import eventually
from shared.testing.services import child_env, free_port

# A service in miniature: the shared base app (probes, metrics) plus one route of its own.
PROGRAM = """
from dataclasses import dataclass
from aiohttp import web
from shared.config import Env
from shared.logging import LogSettings
from shared.runner import run_service
from shared.web import HttpSettings, base_app

@dataclass(frozen=True)
class Settings:
    http: HttpSettings
    log: LogSettings

def from_env():
    env = Env()
    return Settings(http=HttpSettings.from_env(env), log=LogSettings.from_env(env))

async def hello(request):
    return web.json_response({"hello": "world"})

def create_app(settings):
    app = base_app(settings.http)
    app.router.add_get("/api/hello", hello)
    return app

run_service("mini", from_env, create_app)
"""
PATHS = ("/healthz", "/readyz", "/metrics", "/api/hello")


@contextmanager
def service(**env: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-c", PROGRAM],
        env=child_env(HOST="127.0.0.1", **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)


async def status(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as response:
        await response.read()
        return response.status


async def answering(http: aiohttp.ClientSession, url: str) -> bool:
    try:
        return await status(http, url) == 200
    except aiohttp.ClientConnectionError:
        return False


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_with_a_management_port_the_main_port_hides_probes_and_metrics(
    http: aiohttp.ClientSession,
) -> None:
    port, management_port = free_port(), free_port()
    main, management = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{management_port}"

    with service(PORT=str(port), MANAGEMENT_PORT=str(management_port)):
        await eventually(lambda: answering(http, f"{management}/healthz"), what="management port")

        on_main = {path: await status(http, f"{main}{path}") for path in PATHS}
        on_management = {path: await status(http, f"{management}{path}") for path in PATHS}
        async with http.get(f"{main}/metrics") as hidden:
            hidden_body = await hidden.json()
        async with http.get(f"{management}/metrics") as metrics:
            metrics_text = await metrics.text()

    assert on_main == {"/healthz": 404, "/readyz": 404, "/metrics": 404, "/api/hello": 200}
    assert on_management == {"/healthz": 200, "/readyz": 200, "/metrics": 200, "/api/hello": 404}
    assert hidden_body == {"errors": [{"message": "Not Found"}]}
    assert "http_requests_total" in metrics_text


async def test_without_a_management_port_everything_is_on_the_main_port(
    http: aiohttp.ClientSession,
) -> None:
    port = free_port()
    main = f"http://127.0.0.1:{port}"

    with service(PORT=str(port)):
        await eventually(lambda: answering(http, f"{main}/healthz"), what="main port")

        on_main = {path: await status(http, f"{main}{path}") for path in PATHS}

    assert on_main == dict.fromkeys(PATHS, 200)


@pytest.mark.parametrize(
    ("value", "message"),
    [("abc", "MANAGEMENT_PORT must be an integer"), ("PORT", "MANAGEMENT_PORT must differ")],
)
def test_a_bad_management_port_stops_the_process_with_one_line(value: str, message: str) -> None:
    port = str(free_port())
    management_port = port if value == "PORT" else value

    with service(PORT=port, MANAGEMENT_PORT=management_port) as process:
        _, stderr = process.communicate(timeout=30)

    assert process.returncode == 2
    assert message in stderr.decode()
    assert len(stderr.decode().strip().splitlines()) == 1
