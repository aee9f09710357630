"""`make test` provisions the machine before the suite: Chromium and wrk are what it adds to
`make up`'s."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deploy.local import hosts
from deploy.local.paths import REPO_ROOT


def test_make_test_provisions_the_machine_before_running_tox() -> None:
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert recipe, "no test target"
    lines = [line.strip() for line in recipe.group(1).splitlines()]
    assert lines[0] == "@$(VENV)/bin/python -m deploy.local.hosts --tests"
    assert "tox" in lines[-1]


def refuse_apt(*packages: str) -> None:
    raise AssertionError(f"apt-get install {packages} for something already here")


def test_a_chromium_on_the_path_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setattr(hosts, "apt_install", refuse_apt)

    hosts.ensure_chromium()


def test_without_chromium_it_is_installed_with_its_font(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed: list[tuple[str, ...]] = []
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setattr(hosts, "apt_install", lambda *packages: installed.append(packages))

    hosts.ensure_chromium()

    assert installed == [("chromium", "fonts-dejavu-core")]


def test_without_wrk_it_is_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed: list[tuple[str, ...]] = []
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    monkeypatch.setattr(hosts, "apt_install", lambda *packages: installed.append(packages))

    hosts.ensure_wrk()

    assert installed == [("wrk",)]


def test_a_wrk_on_the_path_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrk = tmp_path / "wrk"
    wrk.write_text("#!/bin/sh\n")
    wrk.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(hosts, "apt_install", refuse_apt)

    hosts.ensure_wrk()
