"""What happened when: every answer the gateway gave, and every fault's span.

Times are seconds since the run started (``time.monotonic()`` based), so answers and
faults line up; a 502/503/504 is judged against the faults that were on at the time.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

NO_ANSWER = 0  # the status recorded when a request got no response (refused, timed out)
UNAVAILABLE = frozenset({502, 503, 504, NO_ANSWER})


@dataclass(frozen=True)
class Answer:
    method: str
    route: str  # the route's template, e.g. "/api/orders/:id"
    status: int
    at_s: float


@dataclass
class FaultSpan:
    name: str
    started_s: float
    ended_s: float | None = None
    detail: str = ""
    happened: bool = False  # the fault was injected and the stack recovered from it
    skipped: str = ""  # why it was not injected, when it was not


@dataclass
class Timeline:
    """Answers and fault spans of one run; ``grace_s`` after a fault still excuses a 5xx."""

    grace_s: float = 15.0
    started: float = field(default_factory=time.monotonic)
    answers: list[Answer] = field(default_factory=list)
    faults: list[FaultSpan] = field(default_factory=list)

    def now_s(self) -> float:
        return time.monotonic() - self.started

    def answer(self, method: str, route: str, status: int) -> None:
        self.answers.append(Answer(method, route, status, self.now_s()))

    def excused(self, answer: Answer) -> bool:
        """True when a fault was on at the time of ``answer`` (or ended within the grace)."""
        for span in self.faults:
            if span.skipped:
                continue
            end = span.ended_s if span.ended_s is not None else float("inf")
            if span.started_s <= answer.at_s <= end + self.grace_s:
                return True
        return False

    def server_errors(self) -> list[Answer]:
        """Answers that break "no 500s": any 500, and unavailability no fault explains."""
        return [
            a
            for a in self.answers
            if (a.status >= 500 or a.status == NO_ANSWER)
            and not (a.status in UNAVAILABLE and self.excused(a))
        ]

    def expected_unavailability(self) -> dict[tuple[str, int], list[float]]:
        """502/503/504 (and no answer) during or just after a fault: when they came, by
        route and status."""
        found: dict[tuple[str, int], list[float]] = {}
        for a in self.answers:
            if a.status in UNAVAILABLE and self.excused(a):
                found.setdefault((f"{a.method} {a.route}", a.status), []).append(a.at_s)
        return found

    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.answers)
