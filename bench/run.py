"""``make bench``: every benchmark in turn, then one table of ours against each peer.

Each script runs as a subprocess of its own, one after the other, so no two share the
machine's cores; each writes its rows (``bench.report.Row``) with ``--json``. A script that
is missing, crashes or reports a wrong result (it exits non-zero) shows as a failed row,
the run goes on, and this command exits 1 at the end. Goals not met are figures, not
failures: the table says which.

The table is printed and written to ``bench/last.md``; ``--readme`` also puts it into
README.md's Performance section (between the bench markers), and ``--readme-only`` does
only that, from the last run. With ``MONGO_URL`` set the scripts use that MongoDB instead of
mongoeco stand-ins (and have no stand-in CPU to report).

    .venv/bin/python -m bench.run [--quick] [--readme] [--scripts bench.reservations ...]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench.report import Row, failed_row, read_json, table

REPO_ROOT = Path(__file__).resolve().parents[1]
LAST = REPO_ROOT / "bench" / "last.md"
README = REPO_ROOT / "README.md"
README_START = "<!-- bench:start (python -m bench.run --readme writes this) -->"
README_END = "<!-- bench:end -->"

# The order: the request path, the event pipeline, then the crowd at the gateway.
SCRIPTS = (
    "bench.request_path",
    "bench.propagation",
    "bench.ticket_updates",
    "bench.expiration_lateness",
    "bench.reservations",
    "bench.crowd",
)
# A script still running after this long has hung; its rows are failed.
SCRIPT_TIMEOUT_S = 1200


def run_script(
    module: str, *, quick: bool, folder: Path, timeout_s: float = SCRIPT_TIMEOUT_S
) -> list[Row]:
    """The rows ``module`` reported, and a failed row if it could not finish cleanly."""
    if importlib.util.find_spec(module) is None:
        return [failed_row(module, "no such script")]
    output = folder / f"{module}.json"
    argv = [sys.executable, "-m", module, "--json", str(output), *(["--quick"] if quick else [])]
    print(f"\n=== {module} {'(quick)' if quick else ''}", flush=True)
    started = time.monotonic()
    # Its output goes straight to ours: the figures as it prints them. A session of its own,
    # so that a hung script goes with everything it started (a stack, its stand-ins).
    process = subprocess.Popen(argv, cwd=REPO_ROOT, start_new_session=True)
    try:
        returncode: int | None = process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        returncode = None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except KeyboardInterrupt:
        # Ctrl-C reached only our session: pass it on, so the script tidies up as it would.
        os.killpg(process.pid, signal.SIGINT)
        process.wait()
        raise
    print(f"=== {module}: {time.monotonic() - started:.0f} s", flush=True)
    rows = read_json(output) if output.exists() else []
    if returncode is None:
        rows.append(failed_row(module, f"still running after {timeout_s:g} s"))
    elif returncode != 0:
        rows.append(failed_row(module, f"exited {returncode}; see its output above"))
    elif not rows:
        rows.append(failed_row(module, "reported no rows"))
    return rows


def heading(quick: bool) -> str:
    mongo = "MongoDB at MONGO_URL" if os.environ.get("MONGO_URL") else "mongoeco stand-ins"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"`python -m bench.run{' --quick' if quick else ''}`, {when}: {mongo}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs. "
        "Peers run in the same process tree and the same minutes as ours; ratio = ours / peer."
    )


def write_readme(report: str, readme: Path = README) -> None:
    """Replace what stands between the bench markers in the README with ``report``."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        raise SystemExit(f"{readme} has no {README_START!r} ... {README_END!r} markers")
    head, tail = text[: start + len(README_START)], text[end:]
    readme.write_text(f"{head}\n{report}\n{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small runs: does it complete?")
    parser.add_argument("--readme", action="store_true", help="also write the table into README")
    parser.add_argument(
        "--readme-only", action="store_true", help=f"write {LAST.name} into README; run nothing"
    )
    parser.add_argument("--scripts", nargs="+", default=SCRIPTS, help="modules to run")
    parser.add_argument("--out", type=Path, default=LAST, help="where the table is written")
    parser.add_argument(
        "--timeout", type=float, default=SCRIPT_TIMEOUT_S, help="seconds a script may take"
    )
    args = parser.parse_args(argv)
    if args.readme_only:
        write_readme(args.out.read_text().strip())
        return 0

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        for module in args.scripts:
            rows.extend(
                run_script(module, quick=args.quick, folder=Path(folder), timeout_s=args.timeout)
            )
    report = f"{heading(args.quick)}\n\n{table(rows)}"
    print(f"\n{report}")
    args.out.write_text(report + "\n")
    if args.readme:
        write_readme(report)
    failed = [row.metric for row in rows if row.failure]
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
