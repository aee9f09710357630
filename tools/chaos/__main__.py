"""``python -m tools.chaos``: flows under faults, then the invariants; exit 1 on a violation.

Against a running supervised stack (``make up``) with ``--url``, or a stack of its own
(own ports, AMQP namespace, Redis and databases; a short hold so expiry happens).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Iterator, Sequence

from tools.chaos.faults import KILLABLE, FaultPlan
from tools.chaos.flows import KINDS
from tools.chaos.report import render
from tools.chaos.run import RunConfig, run
from tools.chaos.stack import Hold, OwnStackSettings, Target, own_target, target_at

FAULT_KINDS = ("kill", "broker", "redis", "stripe")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.chaos", description=__doc__)
    parser.add_argument("--url", help="a running supervised stack's gateway (else start one)")
    parser.add_argument("--flows", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--seed", type=int, help="for a repeatable plan of flows")
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=sorted(KINDS),
        help="flow kinds to run (default: all; with --url and no --hold-s, none that wait "
        "for an order to expire)",
    )
    parser.add_argument("--faults", nargs="*", choices=FAULT_KINDS, default=list(FAULT_KINDS))
    parser.add_argument("--kill", nargs="*", choices=(*KILLABLE, "client"), default=KILLABLE)
    parser.add_argument("--fault-gap-s", type=float, default=2.0)
    parser.add_argument("--stripe-outage-s", type=float, default=8.0)
    parser.add_argument("--grace-s", type=float, default=15.0)
    parser.add_argument("--quiesce-timeout-s", type=float, default=120.0)
    hold = parser.add_argument_group("the hold (set by a stack of our own; say what --url has)")
    hold.add_argument("--hold-s", type=float, help="ORDER_EXPIRATION_SECONDS (own: 4, url: 900)")
    hold.add_argument("--sweep-s", type=float, help="ORDER_SWEEP_SECONDS (own: 2, url: 30)")
    hold.add_argument("--sweep-grace-s", type=float, help="ORDER_SWEEP_GRACE_SECONDS (3, 60)")
    parser.add_argument("--queue-type", choices=("quorum", "classic"), default="quorum")
    parser.add_argument("--service-log-level", default="ERROR")
    return parser


WAIT_FOR_EXPIRY = ("expire", "pay_late")


def kinds_from(args: argparse.Namespace) -> tuple[str, ...]:
    if args.kinds:
        return tuple(args.kinds)
    if args.url and args.hold_s is None:
        # `make up` holds an order 15 minutes: a flow that waits for expiry would too.
        return tuple(kind for kind in KINDS if kind not in WAIT_FOR_EXPIRY)
    return tuple(KINDS)


def config_from(args: argparse.Namespace) -> RunConfig:
    chosen = set(args.faults)
    return RunConfig(
        flows=args.flows,
        concurrency=args.concurrency,
        seed=args.seed,
        kinds=kinds_from(args),
        faults=FaultPlan(
            kill=tuple(args.kill) if "kill" in chosen else (),
            broker="broker" in chosen,
            redis="redis" in chosen,
            stripe="stripe" in chosen,
            stripe_s=args.stripe_outage_s,
            gap_s=args.fault_gap_s,
        ),
        grace_s=args.grace_s,
        quiesce_timeout_s=args.quiesce_timeout_s,
    )


@contextlib.contextmanager
def target_from(args: argparse.Namespace) -> Iterator[Target]:
    own = args.url is None
    hold = Hold(
        expiration_s=args.hold_s or (4.0 if own else 900.0),
        sweep_s=args.sweep_s or (2.0 if own else 30.0),
        sweep_grace_s=args.sweep_grace_s or (3.0 if own else 60.0),
    )
    if args.url:
        with target_at(args.url, hold) as target:
            yield target
        return
    settings = OwnStackSettings(hold, args.queue_type, args.service_log_level)
    with own_target(settings) as target:
        yield target


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with target_from(args) as target:
        report = asyncio.run(
            run(target, config_from(args), say=lambda line: print(line, flush=True))
        )
        print(render(report), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
