"""``make up``: provision this machine, then run the whole stack in the foreground.

Ctrl-C (or SIGTERM) stops everything the stack started; exit status 1 when supervision
stopped by itself (a configuration error, a lost mongoeco server). The stores are kept in
``.run/data`` across restarts (``deploy.local.generations``; ``make reset`` wipes them).
"""

from __future__ import annotations

import os
import signal

from deploy.local.banner import ready_banner
from deploy.local.console import say
from deploy.local.generations import DATA_DIR
from deploy.local.hosts import provision
from deploy.local.paths import REPO_ROOT
from deploy.local.stack import Stack


def main() -> None:
    stack = Stack(gateway_port=int(os.environ.get("GATEWAY_PORT", "8080")), data_dir=DATA_DIR)

    def on_signal(signum: int, frame: object) -> None:
        # Halt here, not in the stop that follows: Ctrl-C reaches the children too, and
        # their exits must not be taken for crashes meanwhile. A second signal is ignored
        # so that it cannot cut the stop short.
        if not stack.supervisor.halted.is_set():
            stack.supervisor.halt()
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    try:
        provision()
        stack.start()
        kept = DATA_DIR.relative_to(REPO_ROOT) if stack.generation else None
        for line in ready_banner(stack.url, kept).splitlines():
            say(line)
        stack.supervisor.halted.wait()  # a signal, or an exit no restart can mend
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    say("stopped")
    if stack.supervisor.failure:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
