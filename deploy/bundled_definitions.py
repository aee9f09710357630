"""The bundled RabbitMQ's users and permissions (helm/ticketing/bundled/files), made from the
one definition of them in shared/messaging/permissions.py, so the chart cannot drift from it.

The file carries no passwords: the bundled chart's credentials template fills them in from the
passwords it generates. Regenerate after changing permissions.py (a deploy test checks):

    .venv/bin/python -m deploy.bundled_definitions
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shared.messaging.permissions import SERVICES, Credentials, definitions

BUNDLED_CHART = Path(__file__).resolve().parent.parent / "helm/ticketing/bundled"
PATH = BUNDLED_CHART / "files/rabbitmq-definitions.json"
# The administrator the Bitnami chart is told about (rabbitmq.auth.username in bundled/values.yaml).
ADMIN = "ticketing"


def bundled_definitions() -> dict[str, Any]:
    """The definitions document with every password left empty for the chart to fill in."""
    return definitions(
        {service: Credentials(user=service, password="") for service in SERVICES},
        admin=Credentials(user=ADMIN, password=""),
    )


def render() -> str:
    return json.dumps(bundled_definitions(), indent=2) + "\n"


def main() -> int:
    PATH.write_text(render())
    print(f"wrote {PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
