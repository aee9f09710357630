from dataclasses import dataclass

import pytest

from shared.config import ConfigError, Env, masked, secret
from shared.mongo import MongoSettings


@dataclass(frozen=True)
class Inner:
    url: str
    token: str = secret()


@dataclass(frozen=True)
class Outer:
    inner: Inner
    port: int
    api_key: str | None = secret(None)


def test_masked_hides_secrets_and_url_passwords_but_keeps_the_rest() -> None:
    settings = Outer(
        inner=Inner(url="amqp://guest:s3cret@rabbit:5672/", token="tok"), port=3000, api_key=None
    )

    shown = masked(settings)

    assert shown == {
        "inner": {"url": "amqp://guest:***@rabbit:5672/", "token": "***"},
        "port": 3000,
        "api_key": None,
    }


def test_a_missing_variable_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^MONGO_URL must be defined$"):
        MongoSettings.from_env(Env({}), default_database="orders")


def test_a_blank_variable_counts_as_missing() -> None:
    with pytest.raises(ConfigError, match="JWT_PUBLIC_KEY must be defined"):
        Env({"JWT_PUBLIC_KEY": "   "}).pem("JWT_PUBLIC_KEY")


def test_numbers_and_booleans_are_checked() -> None:
    env = Env({"PORT": "http", "LOW": "0", "FLAG": "yes", "BAD": "perhaps"})

    with pytest.raises(ConfigError, match="PORT must be an integer"):
        env.int("PORT", 3000)
    with pytest.raises(ConfigError, match="LOW must be at least 1"):
        env.int("LOW", 5, minimum=1)
    assert env.bool("FLAG", False) is True
    with pytest.raises(ConfigError, match="BAD must be true or false"):
        env.bool("BAD", True)


def test_the_database_comes_from_the_url_path_or_the_service_name() -> None:
    named = MongoSettings.from_env(
        Env({"MONGO_URL": "mongodb://m:27017/tickets?replicaSet=rs0"}), default_database="x"
    )
    unnamed = MongoSettings.from_env(
        Env({"MONGO_URL": "mongodb://m:27017/?directConnection=true"}), default_database="orders"
    )

    assert named.database == "tickets"
    assert unnamed.database == "orders"


def test_pem_values_accept_escaped_newlines_from_env_files() -> None:
    value = Env({"K": "-----BEGIN X-----\\nabc\\n-----END X-----"}).pem("K")

    assert value.splitlines() == ["-----BEGIN X-----", "abc", "-----END X-----"]
