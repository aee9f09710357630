"""HTTP plumbing every service shares: errors, bodies, validation, health, the base app."""

from shared.web.app import HttpSettings, base_app, identified_app
from shared.web.errors import error_middleware
from shared.web.health import READINESS_CHECKS, add_readiness_check, health_routes
from shared.web.openapi import (
    IDEMPOTENCY_KEY,
    OBJECT_ID_PATTERN,
    Header,
    OtherAnswer,
    QueryParameter,
    add_openapi,
    documented,
)
from shared.web.requests import RequestSchema, idempotency_key, load, object_id, read_json
from shared.web.startup import Backoff, Dependencies, open_in_background

__all__ = [
    "READINESS_CHECKS",
    "RequestSchema",
    "HttpSettings",
    "add_readiness_check",
    "base_app",
    "identified_app",
    "error_middleware",
    "health_routes",
    "idempotency_key",
    "load",
    "object_id",
    "read_json",
    "IDEMPOTENCY_KEY",
    "OBJECT_ID_PATTERN",
    "Header",
    "OtherAnswer",
    "QueryParameter",
    "add_openapi",
    "documented",
    "Backoff",
    "Dependencies",
    "open_in_background",
]
