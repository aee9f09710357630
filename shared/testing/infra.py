"""Starting and finding the real infrastructure the tests and the local stack use."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[2]
MONGO_SERVER_SCRIPT = Path(__file__).with_name("mongo_server.py")
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def mongoeco_python() -> Path:
    """The Python 3.13 interpreter that has mongoeco (``MONGOECO_PYTHON`` or ``.venv313``)."""
    configured = os.environ.get("MONGOECO_PYTHON")
    path = Path(configured) if configured else REPO_ROOT / ".venv313" / "bin" / "python"
    if not path.exists():
        raise RuntimeError(
            f"no mongoeco interpreter at {path}: run `make .venv313` (needs Python 3.13), "
            "or set MONGO_URL to a real MongoDB replica set"
        )
    return path


@dataclass
class MongoServer:
    """A mongoeco wire server in a child process."""

    process: subprocess.Popen[str]
    url: str

    @classmethod
    def start(cls, port: int = 0) -> MongoServer:
        process = subprocess.Popen(
            [str(mongoeco_python()), str(MONGO_SERVER_SCRIPT), str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            process.kill()
            raise RuntimeError(f"mongoeco server did not start (said {line!r})")
        return cls(process=process, url=line[1])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def rabbitmqctl(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=timeout_s, check=False
    )


def has_rabbitmqctl() -> bool:
    return shutil.which("rabbitmqctl") is not None


def with_vhost(url: str, vhost: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


@dataclass
class Vhost:
    """A throw-away RabbitMQ virtual host, so test runs never see each other's messages."""

    name: str
    url: str

    @classmethod
    def create(cls, base_url: str) -> Vhost:
        name = f"test-{uuid.uuid4().hex[:10]}"
        for args in (
            ("add_vhost", name),
            ("set_permissions", "-p", name, "guest", ".*", ".*", ".*"),
        ):
            result = rabbitmqctl(*args, timeout_s=30)
            if result.returncode != 0:
                raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {result.stderr.strip()}")
        return cls(name=name, url=with_vhost(base_url, name))

    def delete(self) -> None:
        rabbitmqctl("delete_vhost", self.name)


def close_connections(connection_name: str) -> int:
    """Make the broker close every connection with this name; returns how many it closed."""
    listing = rabbitmqctl("list_connections", "pid", "client_properties")
    closed = 0
    for line in listing.stdout.splitlines():
        if f'"{connection_name}"' in line or f'<<"{connection_name}">>' in line:
            pid = line.split("\t", 1)[0]
            result = rabbitmqctl("close_connection", pid, "closed by test")
            closed += result.returncode == 0
    return closed
