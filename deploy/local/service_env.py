"""Run a command as one service of the running ``make up`` sees its backends.

Usage::

    python -m deploy.local.service_env orders -- python -m shared.messaging.replay ...

``make up`` gives each service a MongoDB of its own (a mongoeco server, unless
``MONGO_URL`` is set) and, with its kept stores, an AMQP namespace of the stores'
generation; its state file (``.run/stack-<GATEWAY_PORT>.json``) says which. The command runs
with those (``MONGO_URL``, ``MONGO_SERIALIZE_WRITES``, ``AMQP_URL``, ``AMQP_NAMESPACE``,
``REDIS_URL``, and for payments the stack's Stripe emulator) over the current environment.
With no stack running, the current environment is left as it is: a deployment's own
variables then say where the backends are.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from deploy.local.stack import STATE_ENV_KEYS, state_path

DEFAULT_GATEWAY_PORT = 8080


def stack_env(state: Mapping[str, Any], service: str) -> dict[str, str]:
    """The variables ``service`` of the stack that ``state`` describes was started with."""
    env = {
        key: str(value)
        for key, value in (state.get("env") or {}).items()
        if key in STATE_ENV_KEYS and value
    }
    process = (state.get("processes") or {}).get(service) or {}
    if process.get("mongo_url"):
        # mongoeco: the stack serializes each process's writes (deploy.local.stack).
        env.update(MONGO_URL=str(process["mongo_url"]), MONGO_SERIALIZE_WRITES="true")
    emulator = (state.get("processes") or {}).get("stripe_emulator")
    if service == "payments" and emulator:
        # The stack's offline Stripe (its default), which payments' handlers refund through.
        env.update(STRIPE_MODE="emulator", STRIPE_API_BASE=f"http://127.0.0.1:{emulator['port']}")
    return env


def command_env(environ: Mapping[str, str], service: str) -> dict[str, str]:
    """``environ`` with the running stack's variables for ``service`` over it, if one runs
    (the stack behind ``GATEWAY_PORT``, 8080 by default)."""
    port = int(environ.get("GATEWAY_PORT") or DEFAULT_GATEWAY_PORT)
    env = dict(environ)
    try:
        state = json.loads(state_path(port).read_text())
    except FileNotFoundError:
        return env
    print(f"[{service} of the stack at {state.get('url')}]", file=sys.stderr, flush=True)
    env.update(stack_env(state, service))
    return env


def main(argv: Sequence[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m deploy.local.service_env SERVICE -- COMMAND ...", file=sys.stderr)
        return 2
    service, command = argv[0], list(argv[2:])
    os.execvpe(command[0], command, command_env(os.environ, service))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
