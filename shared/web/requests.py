"""Reading request bodies and path ids, and validating them with marshmallow."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import web
from bson import ObjectId
from bson.errors import InvalidId
from marshmallow import EXCLUDE, Schema, ValidationError

from shared.errors import BadRequest, NotFound, RequestValidationError
from shared.idempotency import MAX_KEY_LENGTH, IdempotencyKey, fingerprint

T = TypeVar("T")


class RequestSchema(Schema):
    """Base for request bodies: fields we do not know are dropped, as the original did."""

    class Meta:
        unknown = EXCLUDE


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; 400 when malformed or not an object, 413 when too big."""
    raw = await request.read()  # aiohttp enforces client_max_size here (413)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequest("Request body must be valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    return data


def _problems(messages: Any, prefix: str = "") -> list[tuple[str, str | None]]:
    """Flatten marshmallow's nested error dict into (message, field) pairs."""
    if isinstance(messages, str):
        return [(messages, prefix or None)]
    if isinstance(messages, list):
        return [pair for item in messages for pair in _problems(item, prefix)]
    if isinstance(messages, Mapping):
        pairs = []
        for key, value in messages.items():
            field = "" if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            pairs.extend(_problems(value, field))
        return pairs
    return [(str(messages), prefix or None)]


def load(schema: Schema, data: Mapping[str, Any]) -> Any:
    """Validate ``data`` with ``schema``: the loaded value, or 400 with one entry per field."""
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise RequestValidationError(_problems(exc.messages)) from None


def object_id(request: web.Request, name: str = "id") -> ObjectId:
    """A path segment as an ObjectId; anything else is simply not found (404)."""
    try:
        return ObjectId(request.match_info[name])
    except (InvalidId, TypeError):
        raise NotFound() from None


IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency_key(request: web.Request, *, scope: str, body: Any) -> IdempotencyKey | None:
    """The request's ``Idempotency-Key`` within ``scope``, or None when it sent none."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise RequestValidationError(
            [(f"{IDEMPOTENCY_HEADER} must be 1 to {MAX_KEY_LENGTH} characters", IDEMPOTENCY_HEADER)]
        )
    return IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint(body))
