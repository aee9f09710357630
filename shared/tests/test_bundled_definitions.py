"""The bundled Helm chart's RabbitMQ users and permissions are the ones permissions.py defines:
its definitions file is made from them (deploy/bundled_definitions.py) and must be current."""

from __future__ import annotations

from deploy.bundled_definitions import PATH, render


def test_the_bundled_charts_definitions_file_is_made_from_permissions_py() -> None:
    # Stale after a change to permissions.py: run `python -m deploy.bundled_definitions`.
    assert PATH.read_text() == render()
