"""`make bench` (python -m bench.run): every script's rows in one table; a missing or failing
script is a failed row, the run goes on and exits non-zero; the quick run completes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.report import TIMES
from bench.run import README_END, README_START, SCRIPTS, write_readme
from shared.testing.infra import REPO_ROOT

# A benchmark as bench.run expects one: --json PATH gets its rows, then it exits with `code`.
FAKE_SCRIPT = """
import argparse
from bench.report import Row, write_json

parser = argparse.ArgumentParser()
parser.add_argument("--json")
parser.add_argument("--quick", action="store_true")
args = parser.parse_args()
write_json(args.json, [Row({metric!r}, 90.0, 100.0, "req/s", 0.8, "higher")])
raise SystemExit({code})
"""


def run_bench(*args: str, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "bench.run", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )


def table_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("| ") and "---" not in line]


def test_a_missing_or_failing_script_is_a_failed_row_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / "fake_failing.py").write_text(FAKE_SCRIPT.format(metric="wrong result", code=3))
    (tmp_path / "fake_fine.py").write_text(FAKE_SCRIPT.format(metric="fine figure", code=0))
    out = tmp_path / "last.md"

    result = run_bench(
        "--scripts", "fake_failing", "no_such_bench", "fake_fine", "--out", str(out),
        pythonpath=tmp_path,
    )  # fmt: skip

    assert result.returncode == 1, result.stderr
    rows = table_lines(result.stdout)
    assert rows[1:] == table_lines(out.read_text())[1:]  # the file holds the printed table
    [wrong, failing, missing, fine] = rows[1:]
    assert wrong.startswith(f"| wrong result | 90.0 req/s | 100.0 req/s | 0.90{TIMES} | ")
    assert failing.startswith("| fake_failing | FAILED |")
    assert "exited 3" in failing
    assert missing.startswith("| no_such_bench | FAILED |")
    assert "no such script" in missing
    assert fine.startswith("| fine figure | 90.0 req/s |")  # ran after the two that failed


# A script that hangs, with a child of its own that would outlive it.
HANGING_SCRIPT = """
import pathlib, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
pathlib.Path({pid_file!r}).write_text(str(child.pid))
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone all but its entry.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_hung_script_is_a_failed_row_and_goes_with_what_it_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    (tmp_path / "fake_hanging.py").write_text(HANGING_SCRIPT.format(pid_file=str(pid_file)))

    result = run_bench(
        "--scripts", "fake_hanging", "--timeout", "5", "--out", str(tmp_path / "last.md"),
        pythonpath=tmp_path,
    )  # fmt: skip

    assert result.returncode == 1
    [hung] = table_lines(result.stdout)[1:]
    assert hung.startswith("| fake_hanging | FAILED |")
    assert "still running after 5 s" in hung
    # Killed with it, not left behind (SIGKILL lands at once; its exit is waited for).
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_readme_gets_the_table_between_its_markers_only(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{README_START}\nold table\n{README_END}\n\nThe rest.\n")

    write_readme("new table", readme)

    expected = f"# Title\n\n{README_START}\nnew table\n{README_END}\n\nThe rest.\n"
    assert readme.read_text() == expected


def test_the_quick_bench_completes_and_prints_every_row(tmp_path: Path) -> None:
    out = tmp_path / "last.md"

    result = run_bench("--quick", "--out", str(out))

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Each script prints its own table as it goes; the run's table comes last.
    written = table_lines(out.read_text())
    assert table_lines(result.stdout)[-len(written) :] == written
    printed = written[1:]
    assert not [row for row in printed if "| FAILED |" in row]
    assert len(printed) >= len(SCRIPTS)  # every script reports at least one row
    assert out.read_text().startswith("`python -m bench.run --quick`")
