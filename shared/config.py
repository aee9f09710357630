"""Reading configuration from the environment, once, into frozen dataclasses.

A service's ``Settings`` is a frozen dataclass built by ``Settings.from_env()`` with an
``Env`` reader. A missing or malformed variable raises ``ConfigError`` naming it, which
``shared.runner`` turns into one line on stderr and exit status 2. Fields declared with
``secret()`` are masked when the settings are logged.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SECRET = "secret"
_MISSING = object()
# Env has a method named `str`; annotations inside the class use this alias.
_Str = str


class ConfigError(Exception):
    """A required variable is missing or a value cannot be parsed."""


def secret(default: Any = dataclasses.MISSING) -> Any:
    """A dataclass field whose value is masked in logs."""
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata={SECRET: True})
    return dataclasses.field(default=default, metadata={SECRET: True})


class Env:
    """Typed access to an environment mapping; every error names the variable."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def str(self, name: _Str, default: Any = _MISSING) -> _Str:
        value = self._environ.get(name, "").strip()
        if value:
            return value
        if default is _MISSING:
            raise ConfigError(f"{name} must be defined")
        return _Str(default) if default is not None else ""

    def optional(self, name: _Str) -> _Str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def int(self, name: _Str, default: int | None = None, *, minimum: int | None = None) -> int:
        raw = self.str(name, default=_MISSING if default is None else default)
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}")
        return value

    def float(
        self, name: _Str, default: float | None = None, *, minimum: float | None = None
    ) -> float:
        raw = self.str(name, default=_MISSING if default is None else default)
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise ConfigError(f"{name} must be a finite number, got {raw!r}")
        if minimum is not None and value < minimum:
            raise ConfigError(f"{name} must be at least {minimum:g}, got {value:g}")
        return value

    def bool(self, name: _Str, default: bool) -> bool:
        raw = self.str(name, default="true" if default else "false").lower()
        if raw in {"1", "true", "yes", "on"}:
            return True
        if raw in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name} must be true or false, got {raw!r}")

    def pem(self, name: _Str, default: Any = _MISSING) -> _Str:
        """A PEM block; ``\\n`` escapes are accepted so one-line env files work."""
        value = self.str(name, default)
        return value.replace("\\n", "\n") if value else value


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def masked(settings: Any) -> dict[str, Any]:
    """The settings as a dict fit for a log line: secrets hidden, URL passwords masked."""
    shown: dict[str, Any] = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if field.metadata.get(SECRET):
            shown[field.name] = "***" if value else None
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            shown[field.name] = masked(value)
        elif isinstance(value, str) and "://" in value:
            shown[field.name] = mask_url(value)
        else:
            shown[field.name] = value
    return shown
