"""Errors in Stripe's shape: ``{"error": {"type", "message", "param", "code"}}``."""

from __future__ import annotations

from typing import Any

Params = dict[str, Any]


class StripeError(Exception):
    """An error response in Stripe's shape: ``{"error": {"type", "message", ...}}``."""

    def __init__(self, status: int, error: Params) -> None:
        super().__init__(error.get("message", ""))
        self.status = status
        self.error = error


def invalid_request(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeError:
    error: Params = {"type": "invalid_request_error", "message": message}
    if param is not None:
        error["param"] = param
    if code is not None:
        error["code"] = code
    return StripeError(status, error)


def no_such(kind: str, object_id: str, *, param: str | None = None) -> StripeError:
    """A missing object: 404 when it is named in the path, 400 when named by a parameter."""
    return invalid_request(
        f"No such {kind}: '{object_id}'",
        param=param,
        code="resource_missing",
        status=404 if param is None else 400,
    )
