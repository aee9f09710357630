"""`make up`'s gateway is sized as compose's (issue 17), and real nginx accepts its config."""

from __future__ import annotations

import re
from pathlib import Path

from deploy.local.gateway import MAIN_CONF, UPSTREAM_NAMES, Gateway
from deploy.local.paths import REPO_ROOT

SIZING = ("worker_processes", "worker_rlimit_nofile", "worker_connections")


def sizing(conf: str) -> dict[str, str]:
    return {name: re.findall(rf"\b{name}\s+([^;]+);", conf)[0] for name in SIZING}


def test_the_local_gateway_is_sized_as_composes() -> None:
    compose_conf = (REPO_ROOT / "deploy" / "nginx" / "nginx.conf").read_text()

    assert sizing(MAIN_CONF) == sizing(compose_conf)
    assert sizing(MAIN_CONF)["worker_processes"] == "auto"


def test_nginx_accepts_the_rendered_config(tmp_path: Path) -> None:
    upstreams = dict.fromkeys(UPSTREAM_NAMES, "127.0.0.1:9")
    gateway = Gateway(tmp_path / "nginx", "127.0.0.1:9", upstreams)

    result = gateway.check()

    assert result.returncode == 0, result.stderr
    assert "worker_connections" not in result.stderr  # no complaint about the sizing
