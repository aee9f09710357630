"""What every API service's OpenAPI document must satisfy; each service's tests call these."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from marshmallow import RAISE, Schema, ValidationError

from shared.web.openapi import Operation, api_routes, operation_of


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


def undocumented_routes(app: web.Application, document: Mapping[str, Any]) -> list[str]:
    """``"METHOD path"`` of every API route of ``app`` that ``document`` does not describe."""
    paths = document.get("paths", {})
    return [
        f"{method} {path}"
        for method, path, _ in api_routes(app)
        if method.lower() not in paths.get(path, {})
    ]


def _rejection(schema: Schema, example: Any) -> str | None:
    try:
        # RAISE: an example naming a field the schema does not have is wrong, even where
        # the schema itself would quietly drop it.
        schema.load(example, unknown=RAISE)
    except ValidationError as exc:
        return str(exc.messages)
    return None


def example_errors(app: web.Application) -> list[str]:
    """Every documented example missing or rejected by the schema it illustrates."""
    problems = []
    for method, path, op in _documented_routes(app):
        checks = (
            ("request", op.request, op.request_example, False),
            ("response", op.response, op.response_example, op.many),
            *((f"{a.status} response", a.response, a.example, False) for a in op.other_answers),
        )
        for role, schema, example, many in checks:
            if schema is None:
                continue
            if example is None:
                problems.append(f"{method} {path}: no {role} example")
            elif (rejection := _rejection(schema(many=many), example)) is not None:
                problems.append(f"{method} {path}: {role} example: {rejection}")
    return problems


def _documented_routes(app: web.Application) -> Iterator[tuple[str, str, Operation]]:
    for method, path, handler in api_routes(app):
        if (operation := operation_of(handler)) is not None:
            yield method, path, operation
