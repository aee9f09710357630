"""Header names the consumer, the parked queue and the re-drive command agree on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aio_pika.abc import AbstractIncomingMessage

ATTEMPT = "x-attempt"
PARKED_REASON = "x-parked-reason"
ERROR = "x-error"
ORIGINAL_ROUTING_KEY = "x-original-routing-key"

# Set by the broker when it dead-letters or redelivers; meaningless on a fresh copy.
BROKER_HEADERS = frozenset(
    {
        "x-death",
        "x-delivery-count",
        "x-first-death-exchange",
        "x-first-death-queue",
        "x-first-death-reason",
        "x-last-death-exchange",
        "x-last-death-queue",
        "x-last-death-reason",
    }
)
OUR_HEADERS = frozenset({ATTEMPT, PARKED_REASON, ERROR, ORIGINAL_ROUTING_KEY})

MAX_ERROR_CHARS = 1000


def text(value: Any) -> str:
    """A header value as text (the broker may hand strings back as bytes)."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def routing_key_of(message: AbstractIncomingMessage) -> str:
    """The event type a delivery carries, also on a retry, parked or re-driven copy."""
    headers = message.headers or {}
    return text(message.type or headers.get(ORIGINAL_ROUTING_KEY) or message.routing_key or "")


def attempt_of(headers: Mapping[str, Any]) -> int:
    """Which attempt this delivery is: 1 for the first, +1 per delayed retry."""
    raw = headers.get(ATTEMPT)
    try:
        attempt = int(text(raw)) if raw is not None else 1
    except ValueError:
        return 1
    return max(attempt, 1)


def application_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """The publisher's own headers, without the broker's or the retry machinery's."""
    return {
        key: value
        for key, value in headers.items()
        if key not in BROKER_HEADERS and key not in OUR_HEADERS
    }


def death_reason(headers: Mapping[str, Any]) -> str | None:
    """Why the broker dead-lettered the message, from ``x-death`` (e.g. ``delivery_limit``)."""
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        reason = deaths[0].get("reason")
        return text(reason) if reason is not None else None
    reason = headers.get("x-first-death-reason")
    return text(reason) if reason is not None else None
