"""REDIS_URL with a password (compose and the chart give Redis one): a throwaway
``redis-server --requirepass`` accepts the URL's password, percent-encoded if it must be."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from redis.exceptions import AuthenticationError, ResponseError

from services.expiration.adapters.jobs import open_redis, ping
from services.expiration.config import RedisSettings
from shared.config import Env
from shared.testing.services import free_port

# Characters that must be percent-encoded in a URL's password.
PASSWORD = "s3cr@t/pa:ss%word"


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture
def protected_redis(tmp_path: Path) -> Iterator[int]:
    """The port of a fresh redis-server that requires PASSWORD."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass", PASSWORD,
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            if accepts_connections(port) or process.poll() is not None:
                break
            time.sleep(0.05)  # the server is starting
        assert process.poll() is None, "redis-server did not start"
        yield port
    finally:
        process.terminate()
        process.wait(10)


def settings_for(url: str) -> RedisSettings:
    return RedisSettings.from_env(Env({"REDIS_URL": url}))


async def test_the_urls_password_percent_encoded_signs_in(protected_redis: int) -> None:
    url = f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:{protected_redis}/0"

    async with open_redis(settings_for(url)) as redis:
        await ping(redis)
        await redis.set("key", "value")

        assert await redis.get("key") == b"value"


async def test_the_default_user_named_in_the_url_signs_in_too(protected_redis: int) -> None:
    url = f"redis://default:{quote(PASSWORD, safe='')}@127.0.0.1:{protected_redis}/0"

    async with open_redis(settings_for(url)) as redis:
        await ping(redis)


@pytest.mark.parametrize("password", ["", "wrong"])
async def test_without_the_password_redis_refuses(protected_redis: int, password: str) -> None:
    credentials = f":{password}@" if password else ""
    url = f"redis://{credentials}127.0.0.1:{protected_redis}/0"

    async with open_redis(settings_for(url)) as redis:
        with pytest.raises((AuthenticationError, ResponseError)):
            await ping(redis)
