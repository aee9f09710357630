"""``python -m stripe_emulator [--host H] [--port P]``: serve the emulator until a signal.

A malformed setting is one line on stderr and exit status 2, as for the services
(``shared.runner.load_or_exit``), so a supervisor does not restart it in a loop.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

from aiohttp import web

from shared.runner import load_or_exit
from stripe_emulator.app import create_emulator_app
from stripe_emulator.config import EmulatorSettings

log = logging.getLogger("stripe_emulator")


def main(argv: list[str] | None = None) -> None:
    settings = load_or_exit("stripe_emulator", EmulatorSettings.from_env)
    parser = argparse.ArgumentParser(description="An offline Stripe API (see stripe_emulator).")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    args = parser.parse_args(argv)
    settings = dataclasses.replace(settings, host=args.host, port=args.port)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_emulator_app(
        public_url=settings.public_url,
        webhook_url=settings.webhook_url,
        webhook_secret=settings.webhook_secret,
        webhook_retry_s=settings.webhook_retry_s,
    )
    log.info("Stripe emulator on http://%s:%d", settings.host, settings.port)
    web.run_app(app, host=settings.host, port=settings.port, print=None)


if __name__ == "__main__":
    main()
