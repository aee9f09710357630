"""client reads where the APIs are once, and refuses nonsense."""

import pytest

from services.client.config import ApiSettings, Settings
from shared.config import ConfigError


def test_every_api_is_behind_the_gateway_by_default() -> None:
    settings = Settings.from_env({"API_BASE_URL": "http://nginx:80/"})

    assert settings.api == ApiSettings.at("http://nginx:80")
    assert settings.stripe_publishable_key is None


def test_an_api_may_be_reached_at_its_own_address() -> None:
    settings = Settings.from_env(
        {"API_BASE_URL": "http://gateway", "ORDERS_API_URL": "http://orders:3000"}
    )

    assert settings.api.orders_url == "http://orders:3000"
    assert settings.api.auth_url == "http://gateway"


def test_a_publishable_key_turns_on_stripe() -> None:
    environ = {"API_BASE_URL": "http://gateway", "STRIPE_PUBLISHABLE_KEY": "pk_x"}

    settings = Settings.from_env(environ)

    assert settings.stripe_publishable_key == "pk_x"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({}, "API_BASE_URL must be defined"),
        ({"API_BASE_URL": "nginx:80"}, "API_BASE_URL must be an http:// or https:// URL"),
        (
            {"API_BASE_URL": "http://gateway", "AUTH_API_URL": "ftp://auth"},
            "AUTH_API_URL must be an http:// or https:// URL",
        ),
        (
            {"API_BASE_URL": "http://gateway", "API_TIMEOUT_SECONDS": "0"},
            "API_TIMEOUT_SECONDS must be at least 0.1",
        ),
    ],
)
def test_a_bad_value_stops_the_client_with_a_clear_message(
    environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(environ)
