"""Reading expiration's settings from the environment."""

from __future__ import annotations

import pytest

from services.expiration.config import ExpirySettings, Settings
from shared.config import ConfigError, masked

BASE = {"AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/"}


def test_defaults_tune_the_worker_for_prompt_expiry_and_use_the_local_redis() -> None:
    settings = Settings.from_env(BASE)

    assert settings.redis.url == "redis://127.0.0.1:6379/0"
    assert settings.expiry == ExpirySettings()
    assert settings.expiry.poll_delay_s == 0.02
    assert settings.expiry.queue_name == "arq:expiration"


def test_the_arq_queue_is_named_after_the_amqp_namespace() -> None:
    settings = Settings.from_env({**BASE, "AMQP_NAMESPACE": "blue"})

    assert settings.expiry.queue_name == "arq:blue.expiration"


def test_every_worker_setting_can_be_set() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "REDIS_URL": "rediss://user:pw@redis.example:6380/2",
            "EXPIRATION_QUEUE": "expiry-jobs",
            "EXPIRATION_POLL_DELAY_SECONDS": "0.05",
            "EXPIRATION_MAX_JOBS": "20",
            "EXPIRATION_KEEP_RESULT_SECONDS": "0",
            "EXPIRATION_MAX_TRIES": "7",
        }
    )

    arq = settings.redis.arq
    assert (arq.host, arq.port, arq.database, arq.ssl) == ("redis.example", 6380, 2, True)
    assert settings.expiry == ExpirySettings(
        queue_name="expiry-jobs", poll_delay_s=0.05, max_jobs=20, keep_result_s=0, max_tries=7
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("REDIS_URL", "http://127.0.0.1:6379", "REDIS_URL must be a redis://"),
        ("REDIS_URL", "redis://127.0.0.1:6379/zero", "REDIS_URL must be a redis://"),
        ("EXPIRATION_POLL_DELAY_SECONDS", "0", "EXPIRATION_POLL_DELAY_SECONDS must be positive"),
        ("EXPIRATION_POLL_DELAY_SECONDS", "soon", "EXPIRATION_POLL_DELAY_SECONDS must be a number"),
        ("EXPIRATION_KEEP_RESULT_SECONDS", "-1", "EXPIRATION_KEEP_RESULT_SECONDS must not be"),
        ("EXPIRATION_MAX_JOBS", "0", "EXPIRATION_MAX_JOBS must be at least 1"),
        ("EXPIRATION_MAX_TRIES", "0", "EXPIRATION_MAX_TRIES must be at least 1"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({**BASE, variable: value})


def test_a_missing_broker_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="AMQP_URL must be defined"):
        Settings.from_env({})


def test_the_redis_password_is_masked_in_logged_settings_and_errors() -> None:
    settings = Settings.from_env({**BASE, "REDIS_URL": "redis://:s3cret@redis:6379/0"})

    assert "s3cret" not in str(masked(settings))
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**BASE, "REDIS_URL": "http://:s3cret@redis:6379/0"})
    assert "s3cret" not in str(refused.value)


def test_the_retry_delay_doubles_from_the_first_up_to_the_cap() -> None:
    expiry = ExpirySettings(first_retry_delay_s=0.5, max_retry_delay_s=30.0)

    delays = [expiry.retry_delay_s(job_try) for job_try in range(1, 10)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
