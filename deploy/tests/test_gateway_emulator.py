"""The gateway's route to the Stripe emulator's 3-D Secure pages: nginx itself checks the
configuration the compose nginx would run, with and without the emulator."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from deploy.local.gateway import INCLUDES_SCRIPT, MAIN_CONF, TEMPLATE, render
from deploy.local.hosts import find_nginx

UPSTREAMS = ("AUTH", "TICKETS", "ORDERS", "PAYMENTS", "CLIENT")


def checked_config(root: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` of the template rendered as compose renders it, its includes written by
    the script with ``env``; the full configuration dumped (``-T``) on stdout."""
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed")
    for folder in ("run", "logs", "tmp"):
        (root / folder).mkdir(exist_ok=True)
    values = {f"{name}_UPSTREAM": "127.0.0.1:9" for name in UPSTREAMS}
    values |= {"GATEWAY_LISTEN": "127.0.0.1:9", "GATEWAY_AUTH_RATE": "5"}
    values |= {"GATEWAY_AUTH_BURST": "10"}
    (root / "ticketing.conf").write_text(render(TEMPLATE.read_text(), values))
    written = subprocess.run(
        ["sh", str(INCLUDES_SCRIPT)],
        env={"PATH": "/usr/bin:/bin", "TICKETING_NGINX_CONF_DIR": str(root), **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert written.returncode == 0, written.stderr
    (root / "nginx.conf").write_text(MAIN_CONF.format(root=root))
    return subprocess.run(
        [nginx, "-T", "-p", str(root), "-c", str(root / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_in_emulator_mode_the_gateway_hands_the_challenge_pages_to_the_emulator(
    tmp_path: Path,
) -> None:
    checked = checked_config(
        tmp_path, STRIPE_MODE="emulator", STRIPE_EMULATOR_UPSTREAM="127.0.0.1:12111"
    )

    assert checked.returncode == 0, checked.stderr
    assert "location /_emulator/3ds/ { proxy_pass http://127.0.0.1:12111; }" in checked.stdout
    assert "location /_emulator/ " not in checked.stdout  # faults stay off the gateway


def test_with_stripe_itself_the_gateway_has_no_emulator_route(tmp_path: Path) -> None:
    checked = checked_config(
        tmp_path, STRIPE_MODE="stripe", STRIPE_EMULATOR_UPSTREAM="127.0.0.1:12111"
    )

    assert checked.returncode == 0, checked.stderr
    assert "/_emulator/" not in checked.stdout
