"""nginx as the local gateway, from the same template docker compose uses."""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.hosts import find_nginx
from deploy.local.paths import REPO_ROOT

TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "ticketing.conf.template"
# Writes the template's includes (trusted proxies, https listener); the compose nginx runs it too.
INCLUDES_SCRIPT = REPO_ROOT / "deploy" / "nginx" / "ticketing-includes.sh"
UPSTREAM_NAMES = ("AUTH", "TICKETS", "ORDERS", "PAYMENTS", "CLIENT")
# The brake on sign-in and sign-up, per client address (GATEWAY_AUTH_RATE, _BURST).
DEFAULT_AUTH_RATE_PER_S = 5
DEFAULT_AUTH_BURST = 10
# Whose X-Forwarded-For nginx believes (GATEWAY_TRUSTED_PROXIES): on one machine, the client
# process calling the APIs for a browser.
DEFAULT_TRUSTED_PROXIES = "127.0.0.1/32"

# Sized for an on-sale crowd, as compose's deploy/nginx/nginx.conf (the same three numbers):
# a worker per core; a proxied request holds two connections (the client's and the
# upstream's), so 8192 per worker is 4,096 clients even if one worker accepts them all;
# and the file descriptors for them, whatever the shell's `ulimit -n`.
MAIN_CONF = """\
worker_processes auto;
worker_rlimit_nofile 16384;
pid {root}/run/nginx.pid;
error_log {root}/logs/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log {root}/logs/access.log;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    include {root}/ticketing.conf;
}}
"""


def nginx_binary() -> str:
    found = find_nginx()
    if not found:
        raise RuntimeError("nginx is not installed: apt-get install nginx-light")
    return found


def render(template: str, values: dict[str, str]) -> str:
    """Substitute ``${NAME}`` for the given names only; nginx's own ``$vars`` stay."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        return values[name] if name in values else match.group(0)

    return re.sub(r"\$\{([A-Z_]+)\}", substitute, template)


@dataclass(frozen=True)
class Tls:
    """An https listener: its address and PEM certificate chain and key files."""

    listen: str
    cert: Path
    key: Path


@dataclass
class Gateway:
    """nginx in a runtime folder of its own, runnable without root paths."""

    root: Path
    listen: str
    upstreams: dict[str, str]
    auth_rate_per_s: int = DEFAULT_AUTH_RATE_PER_S
    auth_burst: int = DEFAULT_AUTH_BURST
    trusted_proxies: str = DEFAULT_TRUSTED_PROXIES
    tls: Tls | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def write_config(self) -> Path:
        for sub in ("run", "logs", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # Workers drop to an unprivileged user when nginx starts as root; let them buffer.
        (self.root / "tmp").chmod(0o1777)
        values = {f"{name}_UPSTREAM": self.upstreams[name] for name in UPSTREAM_NAMES}
        values["GATEWAY_LISTEN"] = self.listen
        values["GATEWAY_AUTH_RATE"] = str(self.auth_rate_per_s)
        values["GATEWAY_AUTH_BURST"] = str(self.auth_burst)
        (self.root / "ticketing.conf").write_text(render(TEMPLATE.read_text(), values))
        self._write_includes()
        conf = self.root / "nginx.conf"
        conf.write_text(MAIN_CONF.format(root=self.root))
        return conf

    def _write_includes(self) -> None:
        """The template's includes, by the script compose's nginx runs (relative includes
        resolve against the folder of nginx.conf: here ``root``)."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TICKETING_NGINX_CONF_DIR": str(self.root),
            "GATEWAY_TRUSTED_PROXIES": self.trusted_proxies,
        }
        if self.tls:
            env |= {
                "GATEWAY_TLS_LISTEN": self.tls.listen,
                "GATEWAY_TLS_CERT": str(self.tls.cert),
                "GATEWAY_TLS_KEY": str(self.tls.key),
            }
        result = subprocess.run(
            ["sh", str(INCLUDES_SCRIPT)], env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise ValueError(result.stderr.strip())

    def _args(self) -> list[str]:
        conf = self.write_config()
        return [
            nginx_binary(),
            "-p",
            str(self.root),
            "-c",
            str(conf),
            "-e",
            str(self.root / "logs" / "error.log"),
        ]

    def check(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t`` on the rendered config."""
        return subprocess.run([*self._args(), "-t"], capture_output=True, text=True, check=False)

    def start(self, url: str, timeout_s: float = 10.0) -> None:
        self.process = subprocess.Popen([*self._args(), "-g", "daemon off;"])
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"nginx exited with {self.process.returncode}; see {self.root}/logs"
                )
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not answer /healthz in time")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: fast shutdown
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
