"""What every benchmark reports: rows of ours against a peer measured in the same run.

This machine is shared and noisy, so a figure alone means little; each row puts ours beside
a peer doing the same work at the same moment (a bare aiohttp app, raw PyMongo, raw
aio-pika, a raw transaction loop) and the ratio is what a goal is checked against.

A benchmark script prints its rows as a table and, with ``--json PATH``, writes them for
``make bench`` (bench/run.py) to gather into one table.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

# "higher": ours/peer must reach the goal (throughput); "lower": ours/peer must stay under
# it (CPU per request, latency); "absolute": no peer, ours is checked against the goal;
# "shown": no goal, ours is printed beside the peer (the issue asks only to see both).
TIMES = "\N{MULTIPLICATION SIGN}"

Better = Literal["higher", "lower", "absolute", "shown"]


@dataclass(frozen=True)
class Row:
    metric: str
    ours: float
    peer: float | None  # None when the goal is absolute (convergence seconds, RSS)
    unit: str
    goal: float  # the ratio (or, for "absolute", the value) the issue asks for
    better: Better
    # Share of the CPU the MongoDB stand-in used while ours ran (0..1 of one core), or None.
    standin_cpu: float | None = None
    note: str = ""
    # Why there is no figure (the script is missing, crashed, or found a wrong result).
    failure: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer is None or self.peer == 0:
            return None
        return self.ours / self.peer

    @property
    def met(self) -> bool:
        if self.failure or self.better == "shown":
            return False
        value = self.ours if self.better == "absolute" else self.ratio
        if value is None:
            return False
        if self.better == "higher":
            return value >= self.goal
        return value <= self.goal


def failed_row(metric: str, failure: str) -> Row:
    """A row standing for figures a benchmark could not give."""
    return Row(metric, math.nan, None, "", math.nan, "shown", failure=failure)


def goal_text(row: Row) -> str:
    if row.better == "shown":
        return "—"
    if row.better == "absolute":
        return f"≤ {row.goal:g} {row.unit}"
    return f"{'≥' if row.better == 'higher' else '≤'} {row.goal:g}{TIMES}"


def table(rows: Sequence[Row]) -> str:
    """A Markdown table, the same one the README carries."""
    lines = [
        "| metric | ours | peer | ratio | goal | met | stand-in CPU | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if row.failure:
            lines.append(f"| {row.metric} | FAILED | — | — | — | no | — | {cell(row.failure)} |")
            continue
        peer = "—" if row.peer is None else f"{row.peer:,.1f} {row.unit}"
        ratio = "—" if row.ratio is None else f"{row.ratio:.2f}{TIMES}"
        cpu = "—" if row.standin_cpu is None else f"{row.standin_cpu:.0%}"
        met = "—" if row.better == "shown" else "yes" if row.met else "no"
        lines.append(
            f"| {row.metric} | {row.ours:,.1f} {row.unit} | {peer} | {ratio} | "
            f"{goal_text(row)} | {met} | {cpu} | {cell(row.note)} |"
        )
    return "\n".join(lines)


def cell(text: str) -> str:
    """Text that cannot break a Markdown table row."""
    return " ".join(text.split()).replace("|", "\\|")


def write_json(path: str | Path, rows: Sequence[Row]) -> None:
    Path(path).write_text(json.dumps([asdict(row) for row in rows], indent=1))


def read_json(path: str | Path) -> list[Row]:
    return [Row(**item) for item in json.loads(Path(path).read_text())]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process (e.g. the mongoeco server) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def rss_mib(pid: int) -> float:
    """A process's resident set size in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for pid {pid}")
