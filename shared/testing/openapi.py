"""What every API service's OpenAPI document must satisfy; each service's tests call these."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from shared.web.openapi import example_errors, undocumented_routes


async def served_document(client: TestClient[Any, Any], path: str) -> dict[str, Any]:
    """The document at ``path``: served, and an OpenAPI 3 document."""
    response = await client.get(path)
    assert response.status == 200
    document: dict[str, Any] = await response.json()
    assert document["openapi"].startswith("3.")
    return document


def assert_complete(
    client: TestClient[Any, Any], document: dict[str, Any], paths: set[str]
) -> None:
    """Every route of the app is in ``document`` (exactly ``paths``) and every example fits."""
    assert client.app is not None
    assert undocumented_routes(client.app, document) == []
    assert set(document["paths"]) == paths
    assert example_errors(client.app) == []
