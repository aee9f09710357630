"""``make up``: provision this machine, then run the whole stack in the foreground.

Ctrl-C (or SIGTERM) stops everything the stack started; exit status 1 when supervision
stopped by itself (a configuration error, a lost mongoeco server).
"""

from __future__ import annotations

import os
import signal

from deploy.local.console import say
from deploy.local.hosts import provision
from deploy.local.stack import Stack


def main() -> None:
    stack = Stack(gateway_port=int(os.environ.get("GATEWAY_PORT", "8080")))

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
        say(f"ready: {stack.url}  (Ctrl-C stops everything)")
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
