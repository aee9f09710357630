"""Dependencies come from lock files with hashes (issue 16): requirements/*.lock pin every
dependency the project declares, at a version its specifier allows, each with hashes, and the
image, make and tox install from them and nothing else. `make lock` re-pins."""

from __future__ import annotations

import configparser
import json
import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from deploy.tests.conftest import REPO_ROOT

LOCKS = REPO_ROOT / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(lock: str) -> dict[str, tuple[Version, list[str]]]:
    """name -> (version, hashes) of every entry of a lock file."""
    found: dict[str, tuple[Version, list[str]]] = {}
    entries = re.split(r"\n(?=[A-Za-z0-9])", (LOCKS / lock).read_text())
    for entry in entries:
        match = PIN.match(entry)
        if match:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", entry)
            found[canonicalize_name(match[1])] = (Version(match[2]), hashes)
    return found


def requirement_lines(text: str) -> list[Requirement]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(REPO_ROOT / "setup.cfg")
    return parser


def install_requires() -> list[Requirement]:
    return requirement_lines(setup_cfg()["options"]["install_requires"])


def extras() -> list[Requirement]:
    section = setup_cfg()["options.extras_require"]
    return [r for name in ("test", "lint", "type") for r in requirement_lines(section[name])]


def assert_pinned(requirements: list[Requirement], lock: str) -> None:
    pinned = pins(lock)
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement} is not in requirements/{lock}: run make lock"
        version, _ = pinned[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements/{lock} pins {name}=={version}, outside {requirement}: run make lock"
        )


@pytest.mark.parametrize(
    "lock", ["app.lock", "dev.lock", "deploy.lock", "mongoeco.lock", "tools.lock"]
)
def test_every_pinned_dependency_carries_hashes(lock: str) -> None:
    pinned = pins(lock)

    assert len(pinned) > 5
    assert [name for name, (_, hashes) in pinned.items() if not hashes] == []


def test_the_image_lock_pins_every_runtime_dependency() -> None:
    assert_pinned(install_requires(), "app.lock")


def test_the_development_lock_pins_the_runtime_and_every_extra_and_tool() -> None:
    tools = requirement_lines((LOCKS / "tools.in").read_text())

    assert_pinned(install_requires() + extras() + tools, "dev.lock")


def test_the_deploy_mongoeco_and_tools_locks_pin_their_inputs() -> None:
    deploy = requirement_lines((REPO_ROOT / "deploy/requirements-deploy.txt").read_text())
    mongoeco = requirement_lines((LOCKS / "mongoeco.in").read_text())

    tools = requirement_lines((LOCKS / "tools.in").read_text())

    assert_pinned(deploy, "deploy.lock")
    assert_pinned(mongoeco, "mongoeco.lock")
    assert_pinned(tools, "tools.lock")


def test_the_runtime_and_development_locks_agree_on_shared_versions() -> None:
    app, dev = pins("app.lock"), pins("dev.lock")
    differ = {name: (app[name][0], dev[name][0]) for name in app if dev[name][0] != app[name][0]}

    assert set(app) <= set(dev)
    assert differ == {}  # the tests run what the image ships


def test_the_image_tox_and_make_install_from_the_locks_with_hashes() -> None:
    dockerfile = (REPO_ROOT / "deploy/Dockerfile").read_text()
    tox = (REPO_ROOT / "tox.ini").read_text()
    makefile = (REPO_ROOT / "Makefile").read_text()

    assert "pip wheel --require-hashes --wheel-dir /wheels -r requirements/app.lock" in dockerfile
    assert "pip wheel --no-deps --wheel-dir /wheels ." in dockerfile
    assert "deps = -r {toxinidir}/requirements/dev.lock" in tox
    assert "deps = -r {toxinidir}/requirements/deploy.lock" in tox
    assert "install_command = python -I -m pip install --no-deps {opts} {packages}" in tox
    assert "extras =" not in tox  # extras would resolve outside the lock
    assert "PIP_LOCKED := pip install -q --require-hashes --no-deps -r" in makefile
    assert "$(PIP_LOCKED) requirements/dev.lock" in makefile
    assert "$(PIP_LOCKED) requirements/mongoeco.lock" in makefile
    workflow = (REPO_ROOT / ".github/workflows/ci.yml").read_text()
    assert "pip install --require-hashes --no-deps -r requirements/tools.lock" in workflow
    assert "pip install --require-hashes --no-deps -r requirements/mongoeco.lock" in workflow
    assert not re.search(r"pip install (?!--require-hashes)", workflow)


def test_a_version_outside_its_specifier_is_reported() -> None:
    with pytest.raises(AssertionError, match="outside"):
        assert_pinned([Requirement("marshmallow>=99")], "app.lock")
    with pytest.raises(AssertionError, match="not in"):
        assert_pinned([Requirement("no-such-package-here")], "app.lock")


@pytest.mark.parametrize(
    "lock", ["app.lock", "dev.lock", "deploy.lock", "mongoeco.lock", "tools.lock"]
)
def test_renovate_re_locks_each_file_with_the_command_in_its_header(lock: str) -> None:
    config = json.loads((REPO_ROOT / ".github/renovate.json").read_text())
    header = (LOCKS / lock).read_text().splitlines()[:2]
    makefile = (REPO_ROOT / "Makefile").read_text()

    assert "pip-compile" in config["enabledManagers"]
    [pattern] = config["pip-compile"]["managerFilePatterns"]
    assert re.search(pattern.strip("/"), f"requirements/{lock}")
    # The header is how Renovate (and a reader) knows how the file was made: make lock's command.
    assert header[0] == "# This file was autogenerated by uv via the following command:"
    assert header[1].startswith("#    uv pip compile --universal --generate-hashes ")
    assert header[1].endswith(f"-o requirements/{lock}")
    assert "--generate-hashes" in makefile
