"""The emulator's settings: the defaults, and a malformed value as a clear configuration error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.config import ConfigError
from shared.testing.services import child_env
from stripe_emulator.config import DEFAULT_PORT, EmulatorSettings


def test_the_defaults_serve_locally_without_webhooks() -> None:
    settings = EmulatorSettings.from_env({})

    assert (settings.host, settings.port) == ("127.0.0.1", DEFAULT_PORT)
    assert settings.webhook_url is None
    assert settings.webhook_secret == "whsec_local_emulator"
    assert settings.webhook_retry_s == 600.0


def test_the_webhook_settings_are_read_from_the_environment() -> None:
    settings = EmulatorSettings.from_env(
        {
            "STRIPE_WEBHOOK_URL": "http://127.0.0.1:1/hook",
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "STRIPE_WEBHOOK_RETRY_SECONDS": "2.5",
            "PORT": "4242",
        }
    )

    assert settings.webhook_url == "http://127.0.0.1:1/hook"
    assert settings.webhook_secret == "whsec_x"
    assert settings.webhook_retry_s == 2.5
    assert settings.port == 4242


@pytest.mark.parametrize("raw", ["soon", "-1", "nan"])
def test_a_malformed_retry_window_is_a_config_error_naming_it(raw: str) -> None:
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_RETRY_SECONDS"):
        EmulatorSettings.from_env({"STRIPE_WEBHOOK_RETRY_SECONDS": raw})


def test_the_program_exits_2_with_one_line_on_a_malformed_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stripe_emulator"],
        env=child_env(STRIPE_WEBHOOK_RETRY_SECONDS="soon", PORT="0"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "stripe_emulator: configuration error: "
        "STRIPE_WEBHOOK_RETRY_SECONDS must be a number, got 'soon'"
    ]
