"""orders reads its hold and sweep settings once, and refuses nonsense."""

import pytest

from services.orders.config import OrderSettings
from shared.config import ConfigError, Env


def test_the_hold_defaults_to_fifteen_minutes() -> None:
    settings = OrderSettings.from_env(Env({}))

    assert settings.expiration_s == 900
    assert settings.sweep_grace_s > 0


def test_the_hold_and_sweep_come_from_the_environment() -> None:
    env = Env(
        {
            "ORDER_EXPIRATION_SECONDS": "3",
            "ORDER_SWEEP_SECONDS": "0.5",
            "ORDER_SWEEP_GRACE_SECONDS": "0",
        }
    )

    assert OrderSettings.from_env(env) == OrderSettings(
        expiration_s=3, sweep_interval_s=0.5, sweep_grace_s=0
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ORDER_EXPIRATION_SECONDS", "0", "ORDER_EXPIRATION_SECONDS must be at least 1, got 0"),
        ("ORDER_EXPIRATION_SECONDS", "soon", "ORDER_EXPIRATION_SECONDS must be an integer"),
        ("ORDER_SWEEP_SECONDS", "0", "ORDER_SWEEP_SECONDS must be at least 0.1, got 0"),
        ("ORDER_SWEEP_SECONDS", "nan", "ORDER_SWEEP_SECONDS must be a finite number"),
        ("ORDER_SWEEP_GRACE_SECONDS", "-1", "ORDER_SWEEP_GRACE_SECONDS must be at least 0"),
    ],
)
def test_a_bad_value_stops_the_service_with_a_clear_message(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        OrderSettings.from_env(Env({name: value}))


def test_a_buyer_may_hold_five_open_orders_unless_told_otherwise() -> None:
    assert OrderSettings.from_env(Env({})).max_open_per_user == 5
    assert OrderSettings.from_env(Env({"ORDERS_MAX_OPEN_PER_USER": "2"})).max_open_per_user == 2
    with pytest.raises(ConfigError, match="ORDERS_MAX_OPEN_PER_USER must be at least 1"):
        OrderSettings.from_env(Env({"ORDERS_MAX_OPEN_PER_USER": "0"}))
