"""OpenAPI 3 documents built from the marshmallow schemas the handlers load and dump with.

A handler states what it takes and gives next to its route::

    @routes.post("/api/tickets")
    @documented(summary="Sell a ticket", request=CreateTicketIn, response=TicketOut, ...)
    async def create_ticket(request: web.Request) -> web.Response: ...

and ``add_openapi(app, path, title=...)`` serves the document of every documented route of
the app at ``GET path``, built once at startup. The checks a service's tests run on it
(every route documented, every example valid) are in ``shared.testing.openapi``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal, TypeVar

from aiohttp import web
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.field_converter import DEFAULT_FIELD_MAPPING
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from marshmallow import Schema, fields

from shared.auth.identity import COOKIE_NAME
from shared.errors import (
    AppError,
    Conflict,
    NotAuthorized,
    NotFound,
    PayloadTooLarge,
    PaymentDeclined,
    RequestValidationError,
    ServiceUnavailable,
)
from shared.events import Money, UtcDateTime
from shared.events.fields import OBJECT_ID_PATTERN as OBJECT_ID_PATTERN  # shared.web exports it
from shared.web.csrf import CROSS_SITE_MESSAGE, UNSAFE_METHODS
from shared.web.errors import Forbidden, UnsupportedMediaType
from shared.web.health import healthz, readyz
from shared.web.metrics import metrics
from shared.web.requests import IDEMPOTENCY_HEADER, load

log = logging.getLogger(__name__)

OPENAPI_VERSION = "3.0.3"
DISTRIBUTION = "ticketing"  # info.version is the version of the package that serves it
SESSION_SCHEME = "session"
OPENAPI = web.AppKey("openapi", dict[str, Any])

Auth = Literal["none", "optional", "required"]
H = TypeVar("H", bound=Callable[..., Any])


class ErrorItemOut(Schema):
    message = fields.String(required=True)
    field = fields.String(metadata={"description": "The request field at fault, if one is"})


class ErrorResponse(Schema):
    """Every error body on the platform (``shared.errors``)."""

    errors = fields.List(fields.Nested(ErrorItemOut), required=True)


def _body(error: AppError) -> dict[str, Any]:
    return {"errors": error.items()}


@dataclass(frozen=True)
class ErrorDoc:
    description: str
    example: dict[str, Any] | None  # None: the operation's own (400, see _empty_body_answer)


# What each error status means on this platform (architecture §2), with the body it carries;
# the fixed messages come from the error classes that produce them.
ERROR_DOCS: dict[int, ErrorDoc] = {
    400: ErrorDoc(
        "Invalid body (`field` names the field), malformed JSON, or a request the current "
        "state refuses",
        None,
    ),
    401: ErrorDoc("Not signed in, or not the owner", _body(NotAuthorized())),
    402: ErrorDoc("The card was declined", _body(PaymentDeclined())),
    404: ErrorDoc("No such resource; also any id that is not an ObjectId", _body(NotFound())),
    409: ErrorDoc("Changed by a concurrent request; retry", _body(Conflict())),
    403: ErrorDoc(
        "Sent by a browser from another site (`Origin`, `Sec-Fetch-Site`)",
        _body(Forbidden(CROSS_SITE_MESSAGE)),
    ),
    413: ErrorDoc("Request body is too large", _body(PayloadTooLarge())),
    415: ErrorDoc("A body that is not `application/json`", _body(UnsupportedMediaType())),
    503: ErrorDoc(
        "A dependency (the database, the payment provider) is unreachable, or the service is "
        "still opening them (`Service is starting; retry shortly`); retry later",
        _body(ServiceUnavailable()),
    ),
}


@dataclass(frozen=True)
class Header:
    """A request header an operation reads."""

    name: str
    description: str
    required: bool = False


IDEMPOTENCY_KEY = Header(
    IDEMPOTENCY_HEADER,
    "1 to 255 characters. A repeat with the same key and body gets the first response and "
    "has no second effect; the same key with another body is a 400.",
)


@dataclass(frozen=True)
class QueryParameter:
    """A query string parameter an operation reads."""

    name: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class OtherAnswer:
    """A further successful answer of an operation, beside its ``status`` (a 202 for
    "not finished yet", say), with its own body."""

    status: int
    response: type[Schema]
    description: str
    example: Any


@dataclass(frozen=True, kw_only=True)
class Operation:
    """What one handler takes and gives. Used as ``@documented(...)`` on the handler."""

    summary: str
    description: str = ""
    request: type[Schema] | None = None
    response: type[Schema] | None = None
    many: bool = False  # the response is a JSON array of ``response``
    status: int = 200
    errors: tuple[int, ...] = ()
    auth: Auth = "none"
    headers: tuple[Header, ...] = ()
    query: tuple[QueryParameter, ...] = ()
    request_example: Mapping[str, Any] | None = None
    response_example: Any = None
    other_answers: tuple[OtherAnswer, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.errors) - ERROR_DOCS.keys())
        if unknown:
            raise ValueError(f"no ERROR_DOCS entry for status {unknown}: add one")
        if self.request is None and self.request_example is not None:
            raise ValueError("a request example needs the request schema it illustrates")
        if self.response is None and self.response_example is not None:
            raise ValueError("a response example needs the response schema it illustrates")

    def __call__(self, handler: H) -> H:
        setattr(handler, _ATTRIBUTE, self)
        return handler


_ATTRIBUTE = "openapi_operation"
documented = Operation  # reads as what it does at the handler: @documented(...)


def operation_of(handler: object) -> Operation | None:
    """The ``@documented`` operation of a route handler, if it has one."""
    operation = getattr(handler, _ATTRIBUTE, None)
    return operation if isinstance(operation, Operation) else None


async def serve_openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


# Probes and metrics are for the cluster, not the public API (the gateway does not route
# them), and the document is about the API rather than part of it.
_OPERATIONAL_HANDLERS: frozenset[object] = frozenset({healthz, readyz, metrics, serve_openapi})


def api_routes(app: web.Application) -> Iterator[tuple[str, str, object]]:
    """(method, path template, handler) of every route the document must describe."""
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS") or route.handler in _OPERATIONAL_HANDLERS:
            continue
        if route.resource is not None:
            yield route.method, route.resource.canonical, route.handler


class _Converter(OpenAPIConverter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Our own copy: map_to_openapi_type would change apispec's module-level mapping.
        self.field_mapping = {
            **DEFAULT_FIELD_MAPPING,
            Money: ("number", None),
            UtcDateTime: ("string", "date-time"),
        }


class _Plugin(MarshmallowPlugin):
    Converter = _Converter


def _json(schema: Any, example: Any) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"application/json": media}


def _empty_body_answer(schema: type[Schema] | None) -> dict[str, Any] | None:
    """The 400 the operation answers ``{}`` with: an error example true to its fields."""
    if schema is None:
        return None
    try:
        load(schema(), {})
    except RequestValidationError as exc:
        return {"errors": exc.items()}
    return None


def _path_parameters(path: str) -> list[dict[str, Any]]:
    # Services read every path segment with shared.web.object_id: an ObjectId or a 404.
    return [
        {
            "in": "path",
            "name": name,
            "required": True,
            "schema": {"type": "string", "pattern": OBJECT_ID_PATTERN},
            "description": "An ObjectId (24 hex digits); any other value is 404 Not Found",
        }
        for name in re.findall(r"\{(\w+)", path)
    ]


def _operation_dict(method: str, op: Operation) -> dict[str, Any]:
    doc: dict[str, Any] = {"summary": op.summary}
    if op.description:
        doc["description"] = op.description
    parameters = [("header", p) for p in op.headers] + [("query", p) for p in op.query]
    if parameters:
        doc["parameters"] = [
            {
                "in": where,
                "name": parameter.name,
                "required": parameter.required,
                "schema": {"type": "string"},
                "description": parameter.description,
            }
            for where, parameter in parameters
        ]
    if op.auth != "none":
        required: list[dict[str, list[str]]] = [{SESSION_SCHEME: []}]
        doc["security"] = required if op.auth == "required" else [{}, *required]
    errors = set(op.errors)
    if method in UNSAFE_METHODS:
        errors.add(403)  # base_app refuses these from another site
    if op.request is not None:
        doc["requestBody"] = {"required": True, "content": _json(op.request, op.request_example)}
        errors.add(413)  # base_app caps every body; a larger one never reaches the handler
        errors.add(415)  # and takes only JSON
    success: dict[str, Any] = {"description": HTTPStatus(op.status).phrase}
    if op.response is not None:
        schema = {"type": "array", "items": op.response} if op.many else op.response
        success["content"] = _json(schema, op.response_example)
    responses = {str(op.status): success}
    for other in op.other_answers:
        responses[str(other.status)] = {
            "description": other.description,
            "content": _json(other.response, other.example),
        }
    for status in sorted(errors):
        error = ERROR_DOCS[status]
        example = _empty_body_answer(op.request) if status == 400 else error.example
        responses[str(status)] = {
            "description": error.description,
            "content": _json(ErrorResponse, example),
        }
    doc["responses"] = responses
    return doc


def openapi_document(app: web.Application, *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3 document of every ``@documented`` route of ``app``."""
    spec = APISpec(
        title=title, version=version, openapi_version=OPENAPI_VERSION, plugins=[_Plugin()]
    )
    spec.components.schema("ErrorResponse", schema=ErrorResponse)
    spec.components.security_scheme(
        SESSION_SCHEME,
        {
            "type": "apiKey",
            "in": "cookie",
            "name": COOKIE_NAME,
            "description": "Set by POST /api/users/signup and /signin; holds the signed JWT",
        },
    )
    by_path: dict[str, dict[str, dict[str, Any]]] = {}
    for method, path, handler in api_routes(app):
        if (operation := operation_of(handler)) is None:
            log.warning("%s %s has no @documented: left out of the OpenAPI document", method, path)
        else:
            by_path.setdefault(path, {})[method.lower()] = _operation_dict(method, operation)
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations, parameters=_path_parameters(path))
    document: dict[str, Any] = spec.to_dict()
    return document


def add_openapi(app: web.Application, path: str, *, title: str) -> None:
    """Serve the OpenAPI document of ``app`` at ``GET path``, built once at startup."""

    async def build(app: web.Application) -> None:
        version = importlib.metadata.version(DISTRIBUTION)
        app[OPENAPI] = openapi_document(app, title=title, version=version)

    app.on_startup.append(build)
    app.router.add_get(path, serve_openapi)
