"""Injected outages (``/_emulator/faults``): a share of /v1 calls stall, then answer 500."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Faults:
    """An injected outage: ``error_rate`` of /v1 calls stall ``delay_ms``, then answer 500."""

    error_rate: float = 0.0
    delay_ms: int = 0
    until: float = 0.0  # time.monotonic() when it ends

    def remaining_s(self) -> float:
        return max(self.until - time.monotonic(), 0.0)

    def strikes(self) -> bool:
        """Whether this call fails: the fault is on and the dice say so."""
        return self.remaining_s() > 0 and random.random() < self.error_rate


def faults_from_request(body: Any) -> Faults:
    """The fault a ``POST /_emulator/faults`` body asks for; ValueError says what is wrong."""
    if not isinstance(body, dict):
        raise ValueError("expected a JSON object")
    error_rate, delay_ms, seconds = (
        body.get("error_rate", 1.0),
        body.get("delay_ms", 0),
        body.get("seconds"),
    )
    if not isinstance(error_rate, int | float) or not 0 <= error_rate <= 1:
        raise ValueError("error_rate must be a number from 0 to 1")
    if not isinstance(delay_ms, int) or isinstance(delay_ms, bool) or delay_ms < 0:
        raise ValueError("delay_ms must be a whole number >= 0")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError("seconds must be a number > 0")
    return Faults(float(error_rate), delay_ms, time.monotonic() + seconds)
