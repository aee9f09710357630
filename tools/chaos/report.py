"""The run's outcome as a table: flows by kind, faults, answers, invariants, timings."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from tools.chaos.flows import FINAL, FlowResult
from tools.chaos.invariants import Check
from tools.chaos.timeline import Timeline

SHOWN_VIOLATIONS = 5


@dataclass
class Report:
    url: str
    flows: list[FlowResult]
    timeline: Timeline
    checks: list[Check]
    quiescence_s: float | None
    restarts: dict[str, int] = field(default_factory=dict)  # per process, at the end

    @property
    def violations(self) -> int:
        return sum(len(check.violations) for check in self.checks)

    @property
    def ok(self) -> bool:
        return self.violations == 0


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def _flow_rows(flows: list[FlowResult]) -> list[str]:
    rows = [
        f"{'FLOWS':<18}{'count':>6}{'complete':>10}{'cancelled':>11}{'other':>7}"
        f"{'notes':>7}{'p50 s':>8}{'p99 s':>8}   other ends"
    ]
    kinds = sorted({f.kind for f in flows})
    for kind, group in [(k, [f for f in flows if f.kind == k]) for k in kinds] + [("all", flows)]:
        ends = Counter(f.end for f in group)
        others = ", ".join(f"{end} {n}" for end, n in ends.items() if end not in FINAL)
        seconds = [f.seconds for f in group]
        rows.append(
            f"{kind:<18}{len(group):>6}{ends['complete']:>10}{ends['cancelled']:>11}"
            f"{sum(n for e, n in ends.items() if e not in FINAL):>7}"
            f"{sum(len(f.notes) for f in group):>7}"
            f"{percentile(seconds, 0.5):>8.1f}{percentile(seconds, 0.99):>8.1f}   {others}"
        )
    return rows


def _fault_rows(timeline: Timeline, restarts: dict[str, int]) -> list[str]:
    rows = [f"{'FAULTS':<20}{'start':>8}{'end':>8}   what happened"]
    for span in timeline.faults:
        end = f"+{span.ended_s:.1f}" if span.ended_s is not None else "-"
        what = f"skipped: {span.skipped}" if span.skipped else span.detail
        rows.append(f"{span.name:<20}{'+' + format(span.started_s, '.1f'):>8}{end:>8}   {what}")
    if restarts:
        rows.append("restarts at the end: " + ", ".join(f"{n} {c}" for n, c in restarts.items()))
    return rows


def _answer_rows(timeline: Timeline) -> list[str]:
    statuses = timeline.statuses()
    rows = ["ANSWERS  " + "  ".join(f"{s or 'none'}: {n}" for s, n in sorted(statuses.items()))]
    expected = timeline.expected_unavailability()
    if expected:
        rows.append(f"expected unavailability (during a fault or {timeline.grace_s:.0f}s after):")
        rows += [
            f"  {route} {status or 'no answer'} x{len(times)} (+{min(times):.1f}s to "
            f"+{max(times):.1f}s)"
            for (route, status), times in sorted(expected.items())
        ]
    return rows


def _check_rows(checks: list[Check]) -> list[str]:
    rows = [f"{'INVARIANTS':<56}{'violations':>10}"]
    for check in checks:
        count = "skipped" if check.skipped else str(len(check.violations))
        rows.append(f"{check.name:<56}{count:>10}")
        rows += [f"    - {v}" for v in check.violations[:SHOWN_VIOLATIONS]]
        if len(check.violations) > SHOWN_VIOLATIONS:
            rows.append(f"    ... and {len(check.violations) - SHOWN_VIOLATIONS} more")
    return rows


def _implicated_rows(report: Report) -> list[str]:
    """The flows whose ticket or order a violation names, with every answer they got."""
    said = "\n".join(v for check in report.checks for v in check.violations)
    implicated = [
        f
        for f in report.flows
        if (f.order_id and f.order_id in said) or (f.ticket_id and f.ticket_id in said)
    ]
    if not implicated:
        return []
    rows = ["FLOWS NAMED BY A VIOLATION (answers are each logical request's last status)"]
    for flow in implicated[: SHOWN_VIOLATIONS * 2]:
        answers = ", ".join(f"{action} {statuses}" for action, statuses in flow.answers.items())
        rows.append(f"  {flow.describe()}: {answers}; ended {flow.end}")
    return rows


def _note_rows(flows: list[FlowResult]) -> list[str]:
    """Each kind of surprise once, with how often and the first flow it happened in."""
    seen: dict[str, list[FlowResult]] = {}
    for flow in flows:
        for note in flow.notes:
            seen.setdefault(f"{flow.kind}: {note}", []).append(flow)
    if not seen:
        return []
    rows = ["NOTES (allowed, but worth knowing)"]
    for note, where in sorted(seen.items(), key=lambda item: -len(item[1]))[:10]:
        first = where[0]
        rows.append(f"  {note} x{len(where)}, first in #{first.index} order {first.order_id}")
    return rows


def render(report: Report) -> str:
    quiet = (
        f"{report.quiescence_s:.1f}s after the last flow and fault"
        if report.quiescence_s is not None
        else "not reached"
    )
    verdict = "PASS" if report.ok else f"FAIL: {report.violations} violation(s)"
    sections = [
        [f"chaos run against {report.url}: {len(report.flows)} flows"],
        _flow_rows(report.flows),
        _fault_rows(report.timeline, report.restarts),
        _answer_rows(report.timeline),
        _check_rows(report.checks),
        _implicated_rows(report),
        _note_rows(report.flows),
        [f"quiescence: {quiet}", f"RESULT: {verdict}"],
    ]
    return "\n\n".join("\n".join(rows) for rows in sections if rows)
