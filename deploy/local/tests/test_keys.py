"""`make keys`: the README's compose step leaves a .env that compose can read, with real keys."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from deploy.local.keys import write_env
from deploy.local.paths import REPO_ROOT

# Compose's dotenv rules (compose-go) for what our files hold: blank lines, `#` comments,
# `NAME=value`, `NAME="value"` with `\n` escapes expanded. Anything else is an error there.
_LINE = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*)=(?:"((?:[^"\\]|\\.)*)"|([^"#]*?))\s*(?:#.*)?$')


def compose_dotenv(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        assert match, f"line {number} is not NAME=value, compose would refuse it: {line!r}"
        quoted, bare = match.group(2), match.group(3)
        values[match.group(1)] = quoted.replace("\\n", "\n") if quoted is not None else bare
    return values


def test_make_keys_writes_an_env_file_compose_reads_with_a_working_key_pair(
    tmp_path: Path,
) -> None:
    env = tmp_path / ".env"

    assert write_env(env, REPO_ROOT / ".env.example")

    values = compose_dotenv(env.read_text())
    private = serialization.load_pem_private_key(values["JWT_PRIVATE_KEY"].encode(), None)
    public = serialization.load_pem_public_key(values["JWT_PUBLIC_KEY"].encode())
    assert isinstance(private, Ed25519PrivateKey)
    assert isinstance(public, Ed25519PublicKey)
    assert private.public_key() == public  # one pair, not two halves of different ones
    assert values["STRIPE_MODE"] == "emulator"  # the rest of .env.example came along


def test_make_keys_keeps_the_keys_a_env_file_already_has(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    write_env(env, REPO_ROOT / ".env.example")
    first = env.read_text()

    assert not write_env(env, REPO_ROOT / ".env.example")
    assert env.read_text() == first


def test_the_makefile_writes_env_itself_and_echoes_nothing_into_it() -> None:
    recipe = re.search(r"^keys:.*\n((?:\t.*\n)+)", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert recipe, "no keys target"
    assert recipe.group(1).strip() == "@$(VENV)/bin/python -m deploy.local.keys --write .env"


def test_printing_a_pair_writes_nothing(tmp_path: Path) -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "deploy.local.keys"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert set(compose_dotenv(printed)) == {"JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY"}
    assert list(tmp_path.iterdir()) == []
