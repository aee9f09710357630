"""Host provisioning: RabbitMQ, Redis and nginx on this machine, installed and started if missing
(and for the test suite, Chromium with its fonts too).

Local brokers are started (and, as root, installed from Debian's packages); remote ones are
only checked. Nothing here starts a process of the stack: that is ``deploy.local.stack``.
``python -m deploy.local.hosts --tests`` is what ``make test`` runs first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from deploy.local.console import say
from deploy.local.probes import answers, wait_until

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def is_local(url: str) -> bool:
    return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


def apt_install(*packages: str) -> None:
    if os.geteuid() != 0:
        raise SystemExit(
            f"[stack] missing {' '.join(packages)}: as root, apt-get install {' '.join(packages)}"
        )
    say(f"installing {' '.join(packages)} from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env=env,
    )


def ensure_rabbitmq(url: str) -> None:
    if answers(url, 5672):
        return
    if not is_local(url):
        raise SystemExit(f"[stack] RabbitMQ at {url} does not answer")
    if not shutil.which("rabbitmq-server"):
        apt_install("rabbitmq-server")
    say("starting RabbitMQ (rabbitmq-server -detached)")
    subprocess.run(
        ["rabbitmq-server", "-detached"],
        check=False,
        env={**os.environ, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1"},
    )
    subprocess.run(["rabbitmqctl", "-q", "await_startup"], check=False, timeout=120)
    wait_until(lambda: answers(url, 5672), "RabbitMQ")


def ensure_redis(url: str) -> None:
    if answers(url, 6379):
        return
    if not is_local(url):
        raise SystemExit(f"[stack] Redis at {url} does not answer")
    if not shutil.which("redis-server"):
        apt_install("redis-server")
    port = str(urlsplit(url).port or 6379)
    say(f"starting Redis on port {port}")
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            port,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    wait_until(lambda: answers(url, 6379), "Redis")


def find_nginx() -> str | None:
    """nginx on the PATH, or Debian's /usr/sbin/nginx (not on a non-root PATH)."""
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


def ensure_nginx() -> None:
    if find_nginx() is None:
        apt_install("nginx-light")


def provision() -> None:
    """What the stack needs of this machine: the broker and Redis at ``AMQP_URL`` /
    ``REDIS_URL`` (default: local ones) answering, and nginx installed."""
    ensure_rabbitmq(os.environ.get("AMQP_URL", DEFAULT_AMQP_URL))
    ensure_redis(os.environ.get("REDIS_URL", DEFAULT_REDIS_URL))
    ensure_nginx()


def ensure_chromium() -> None:
    """Headless Chromium and a font for the browser tests (``CHROMIUM`` names another)."""
    if os.environ.get("CHROMIUM") or shutil.which("chromium"):
        return
    apt_install("chromium", "fonts-dejavu-core")


def ensure_wrk() -> None:
    """wrk, the HTTP load generator of bench/request_path.py (the suite runs a quick bench)."""
    if shutil.which("wrk"):
        return
    apt_install("wrk")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", action="store_true", help="also what the test suite needs")
    provision()
    if parser.parse_args().tests:
        ensure_chromium()
        ensure_wrk()


if __name__ == "__main__":
    main()
