"""The bundled backends' users (issue 16): every service signs in to the bundled MongoDB and
RabbitMQ as a user of its own with only its rights, never as root or the broker's
administrator; the broker loads files/rabbitmq-definitions.json (checked against
permissions.py by shared/tests/test_bundled_definitions.py) with generated passwords."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from deploy.tests.conftest import CHART_DIR, Umbrella

DEFINITIONS = json.loads((CHART_DIR / "bundled/files/rabbitmq-definitions.json").read_text())
ADMIN = "ticketing"
SERVICES = ("auth", "tickets", "orders", "payments", "expiration")

MONGO_SERVICES = ("auth", "tickets", "orders", "payments")
AMQP_USERS = {
    "auth": "auth",
    "tickets": "tickets",
    "orders": "orders",
    "payments": "payments",
    "expiration": "expiration",
    "expiration-worker": "expiration",  # both expiration processes are one broker user
}


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def env_of(umbrella: Umbrella, component: str) -> dict[str, dict[str, Any]]:
    deployment = umbrella.release.get("Deployment", f"shop-ticketing-{component}")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


def secret_value(umbrella: Umbrella, ref: dict[str, str]) -> str:
    return decoded(umbrella.release.get("Secret", ref["name"]))[ref["key"]]


@pytest.mark.parametrize("service", MONGO_SERVICES)
def test_each_service_signs_in_to_mongodb_as_itself_on_its_own_database(
    bundled_umbrella: Umbrella, service: str
) -> None:
    env = env_of(bundled_umbrella, service)
    ref = env["MONGODB_PASSWORD"]["valueFrom"]["secretKeyRef"]

    assert env["MONGO_URL"]["value"] == (
        f"mongodb://{service}:$(MONGODB_PASSWORD)@shop-mongodb-headless:27017/{service}"
        f"?replicaSet=rs0&authSource={service}"
    )
    assert ref == {"name": "shop-mongodb-credentials", "key": f"mongodb-password-{service}"}
    assert "MONGODB_ROOT_PASSWORD" not in env
    password = secret_value(bundled_umbrella, ref)
    assert len(password) >= 32
    assert password.isalnum()  # goes into the URL unencoded


def test_the_mongodb_chart_creates_exactly_those_users_with_those_passwords(
    bundled_umbrella: Umbrella,
) -> None:
    auth = bundled_umbrella.values["mongodb"]["auth"]
    secret = decoded(bundled_umbrella.release.get("Secret", "shop-mongodb-credentials"))

    assert auth["existingSecret"] == "{{ .Release.Name }}-mongodb-credentials"
    assert auth["usernames"] == auth["databases"] == list(MONGO_SERVICES)
    # Bitnami's chart pairs mongodb-passwords with usernames by position.
    assert secret["mongodb-passwords"].split(",") == [
        secret[f"mongodb-password-{s}"] for s in MONGO_SERVICES
    ]
    assert secret["mongodb-root-password"] not in secret["mongodb-passwords"].split(",")
    assert secret["mongodb-replica-set-key"]


@pytest.mark.parametrize(("component", "user"), AMQP_USERS.items())
def test_each_process_signs_in_to_rabbitmq_as_its_service(
    bundled_umbrella: Umbrella, component: str, user: str
) -> None:
    env = env_of(bundled_umbrella, component)
    ref = env["RABBITMQ_PASSWORD"]["valueFrom"]["secretKeyRef"]

    assert env["AMQP_URL"]["value"] == f"amqp://{user}:$(RABBITMQ_PASSWORD)@shop-rabbitmq:5672/"
    assert ref == {"name": "shop-rabbitmq-credentials", "key": f"rabbitmq-password-{user}"}


def test_the_broker_loads_every_service_user_with_its_permissions_and_password(
    bundled_umbrella: Umbrella,
) -> None:
    values = bundled_umbrella.values["rabbitmq"]
    loaded = json.loads(
        decoded(bundled_umbrella.release.get("Secret", "shop-rabbitmq-definitions"))[
            "load_definition.json"
        ]
    )
    passwords = decoded(bundled_umbrella.release.get("Secret", "shop-rabbitmq-credentials"))

    assert values["loadDefinition"] == {
        "enabled": True,
        "existingSecret": "{{ .Release.Name }}-rabbitmq-definitions",
    }
    assert "load_definitions = /app/load_definition.json" in values["extraConfiguration"]
    assert values["auth"]["username"] == ADMIN
    users = {u["name"]: u for u in loaded["users"]}
    assert set(users) == {ADMIN, *SERVICES}
    assert users[ADMIN]["password"] == passwords["rabbitmq-password"]
    assert users[ADMIN]["tags"] == ["administrator"]
    for service in SERVICES:
        assert users[service]["tags"] == []
        assert users[service]["password"] == passwords[f"rabbitmq-password-{service}"]
    # Nothing but the passwords differs from the file (made from permissions.py).
    for user in loaded["users"]:
        user["password"] = ""
    assert loaded == DEFINITIONS


def test_passwords_are_distinct_and_no_backend_pod_mounts_another_backends(
    bundled_umbrella: Umbrella,
) -> None:
    mongo = decoded(bundled_umbrella.release.get("Secret", "shop-mongodb-credentials"))
    rabbit = decoded(bundled_umbrella.release.get("Secret", "shop-rabbitmq-credentials"))
    singles = [v for k, v in {**mongo, **rabbit}.items() if k != "mongodb-passwords"]

    assert len(set(singles)) == len(singles)
    for secret in ("shop-mongodb-credentials", "shop-rabbitmq-credentials"):
        annotations = bundled_umbrella.release.get("Secret", secret)["metadata"]["annotations"]
        assert annotations["helm.sh/resource-policy"] == "keep"
