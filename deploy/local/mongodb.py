"""mongoeco's MongoDB wire server in a child process (when ``MONGO_URL`` is unset).

It runs under the separate Python 3.13 interpreter that has mongoeco (``mongo_server.py``);
the local stack starts one per service, the test fixtures one per session. In memory, or on
mongoeco's SQLite engine in a file that outlives it (``make up``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from deploy.local.paths import REPO_ROOT

MONGO_SERVER_SCRIPT = Path(__file__).with_name("mongo_server.py")


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
    def start(cls, port: int = 0, *, data: Path | None = None) -> MongoServer:
        """A server in memory, or keeping its data in the SQLite file ``data``."""
        argv = [str(mongoeco_python()), str(MONGO_SERVER_SCRIPT), str(port)]
        if data is not None:
            argv += ["--data", str(data)]
        process = subprocess.Popen(
            argv,
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
