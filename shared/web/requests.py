"""Reading request bodies and path ids, and validating them with marshmallow."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from bson import ObjectId
from bson.errors import InvalidId
from marshmallow import EXCLUDE, Schema, ValidationError

from shared.errors import BadRequest, NotFound, RequestValidationError
from shared.idempotency import MAX_KEY_LENGTH, IdempotencyKey, fingerprint
from shared.web.errors import UnsupportedMediaType

T = TypeVar("T")

# Deeper than any body we take; past it a request is refused before any schema walks it.
MAX_JSON_DEPTH = 32
# Longer integers are read as Decimal: int() refuses more than 4300 digits with an error.
MAX_INT_DIGITS = 100


class RequestSchema(Schema):
    """Base for request bodies: fields we do not know are dropped, as the original did."""

    class Meta:
        unknown = EXCLUDE


@web.middleware
async def json_bodies_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """415 for a request with a body that does not say it is JSON.

    The APIs read nothing else. Refusing the rest also closes a CSRF door: a page on
    another site may post a form or ``text/plain`` without a CORS preflight, but not JSON.
    """
    # content_type is the media type alone, lower-cased (a charset parameter is fine);
    # aiohttp says application/octet-stream when the header is missing.
    if request.body_exists and request.content_type != "application/json":
        raise UnsupportedMediaType()
    return await handler(request)


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; 400 when malformed or not an object, 413 when too big."""
    raw = await request.read()  # aiohttp enforces client_max_size here (413)
    if not raw.strip():
        return {}
    try:
        # A number too long for int() (Python refuses beyond 4300 digits) stays a Decimal,
        # for the schema to refuse with its own message.
        data = json.loads(raw, parse_int=_integer)
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError: malformed (JSONDecodeError); RecursionError: absurdly deep.
        raise BadRequest("Request body must be valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    if _depth(data) > MAX_JSON_DEPTH:
        raise BadRequest(f"Request body must not be nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def _integer(text: str) -> int | Decimal:
    return int(text) if len(text) <= MAX_INT_DIGITS else Decimal(text)


def _depth(value: object) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar is 0), without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node)
    return deepest


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
