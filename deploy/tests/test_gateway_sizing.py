"""compose's gateway holds an on-sale crowd (issue 17): nginx's workers sized in the main
config compose mounts, the file descriptors for them, keepalive to every upstream."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
NGINX = REPO_ROOT / "deploy" / "nginx"
# A proxied request holds two connections: this many per worker holds 2,000 clients in one.
CROWD_CONNECTIONS = 4096


def directive(conf: str, name: str) -> str:
    [value] = re.findall(rf"^\s*{name}\s+([^;]+);", conf, re.MULTILINE)
    return value.strip()


def test_compose_mounts_the_sized_main_config(compose: dict[str, Any]) -> None:
    assert (
        "./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro"
        in compose["services"]["nginx"]["volumes"]
    )


def test_a_worker_per_core_each_with_room_for_a_crowd_and_its_file_descriptors(
    compose: dict[str, Any],
) -> None:
    conf = (NGINX / "nginx.conf").read_text()
    connections = int(directive(conf, "worker_connections"))
    open_files = int(directive(conf, "worker_rlimit_nofile"))
    nofile = compose["services"]["nginx"]["ulimits"]["nofile"]

    assert directive(conf, "worker_processes") == "auto"
    assert connections >= CROWD_CONNECTIONS
    assert open_files >= connections
    assert nofile["soft"] >= open_files
    assert nofile["hard"] >= open_files
    # The template is still rendered into the http block.
    assert "include /etc/nginx/conf.d/*.conf;" in conf


def test_every_upstream_keeps_idle_connections_and_the_listener_a_long_queue() -> None:
    template = (NGINX / "ticketing.conf.template").read_text()
    upstreams = re.findall(r"^upstream (\w+)\s*\{(.*)\}$", template, re.MULTILINE)

    assert len(upstreams) == 5
    for name, body in upstreams:
        assert re.search(r"keepalive \d+;", body), name
    # Keepalive upstream connections need HTTP/1.1 without "Connection: close".
    assert "proxy_http_version 1.1;" in template
    assert 'proxy_set_header Connection "";' in template
    assert re.search(r"listen \$\{GATEWAY_LISTEN\} backlog=\d+;", template)
