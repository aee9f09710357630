"""Backends with credentials of their own (issue 13): Redis always with a password, and the
per-service RabbitMQ users the chart's README sets up, checked against the one definition of
their permissions in shared/messaging/permissions.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from deploy.tests.conftest import CHART_DIR, RELEASE, Release, deep_merge


@pytest.fixture(scope="module")
def default_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    return values


@pytest.fixture(scope="module")
def bundled_values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load((CHART_DIR / "bundled" / "values.yaml").read_text())
    return values


@pytest.fixture(scope="module")
def external(render: Callable[..., Release], keys_values: dict[str, Any]) -> Callable[..., Release]:
    def with_redis_url(url: str) -> Release:
        return render(deep_merge(keys_values, {"backends": {"redisUrl": url}}))

    return with_redis_url


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cret@redis:6379/0",
        "rediss://default:s3cr%40t@redis.example.com:6380/0",
    ],
)
def test_a_redis_url_with_a_password_is_stored_in_the_backends_secret(
    external: Callable[..., Release], url: str
) -> None:
    secret = external(url).get("Secret", f"{RELEASE}-backends")

    assert secret["stringData"]["REDIS_URL"] == url


@pytest.mark.parametrize(
    "url", ["redis://redis:6379/0", "redis://user@redis:6379/0", "redis://:@redis:6379/0"]
)
def test_a_redis_url_without_a_password_is_refused(
    chart: Any, keys_values: dict[str, Any], url: str
) -> None:
    with pytest.raises(Exception, match=r"backends\.redisUrl must carry a password"):
        chart.render(deep_merge(keys_values, {"backends": {"redisUrl": url}}), name=RELEASE)


def test_the_default_redis_url_has_a_placeholder_password(default_values: dict[str, Any]) -> None:
    assert default_values["backends"]["redisUrl"].startswith("redis://:change-me@")


def test_the_bundled_redis_signs_in_with_its_generated_password(
    render: Callable[..., Release], keys_values: dict[str, Any], bundled_values: dict[str, Any]
) -> None:
    release = render(deep_merge(keys_values, {"redis": {"enabled": True}}))
    env = release.env("expiration")

    assert bundled_values["redis"]["auth"]["enabled"] is True
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-redis",
        "key": "redis-password",
    }
    assert env["REDIS_URL"]["value"] == f"redis://:$(REDIS_PASSWORD)@{RELEASE}-redis-master:6379/0"
