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


# ---------------------------------------------------------------------------- RabbitMQ users

AMQP_USERS = {
    "auth": "auth",
    "tickets": "tickets",
    "orders": "orders",
    "payments": "payments",
    "expiration": "expiration",
    "expiration-worker": "expiration",
}
PER_SERVICE_URLS = {user: f"amqp://{user}:pw@rabbitmq:5672/" for user in set(AMQP_USERS.values())}


def amqp_key(release: Release, component: str) -> tuple[str, str]:
    ref = release.secret_refs(component)["AMQP_URL"]
    return ref[0], ref[1]


def test_by_default_every_service_uses_the_one_amqp_url(
    render: Callable[..., Release], keys_values: dict[str, Any]
) -> None:
    release = render(keys_values)

    for component in AMQP_USERS:
        assert amqp_key(release, component) == (f"{RELEASE}-backends", "AMQP_URL"), component


def test_with_per_service_users_each_service_reads_its_own_url(
    render: Callable[..., Release], keys_values: dict[str, Any]
) -> None:
    values = {"backends": {"amqpPerServiceUsers": True, "amqpUrls": PER_SERVICE_URLS}}
    release = render(deep_merge(keys_values, values))
    secret = release.get("Secret", f"{RELEASE}-backends")["stringData"]

    for component, user in AMQP_USERS.items():
        key = f"AMQP_URL_{user.upper()}"
        assert amqp_key(release, component) == (f"{RELEASE}-backends", key), component
        assert secret[key] == PER_SERVICE_URLS[user]
    assert "AMQP_URL" not in secret


def test_per_service_users_need_every_url(chart: Any, keys_values: dict[str, Any]) -> None:
    urls = {k: v for k, v in PER_SERVICE_URLS.items() if k != "payments"}
    values = {"backends": {"amqpPerServiceUsers": True, "amqpUrls": urls}}

    with pytest.raises(Exception, match=r"backends\.amqpUrls\.payments is required"):
        chart.render(deep_merge(keys_values, values), name=RELEASE)


def test_per_service_users_from_an_existing_secret(
    render: Callable[..., Release], keys_values: dict[str, Any]
) -> None:
    values = {"backends": {"amqpPerServiceUsers": True, "existingSecret": "mine"}}
    release = render(deep_merge(keys_values, values))

    assert amqp_key(release, "expiration-worker") == ("mine", "AMQP_URL_EXPIRATION")
