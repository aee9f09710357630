"""Errors that cross the HTTP boundary, and the one shape they take in a response.

Every error body is ``{"errors": [{"message": ..., "field": ...?}]}`` (spec §3). Domain
code raises these (or subclasses named in the domain's words); ``shared.web.errors``
translates them once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, TypedDict


class ErrorItem(TypedDict, total=False):
    message: str
    field: str


class AppError(Exception):
    """An error with an HTTP status and a public message."""

    status: ClassVar[int] = 400
    default_message: ClassVar[str] = "Bad Request"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def items(self) -> list[ErrorItem]:
        return [{"message": self.message}]


class BadRequest(AppError):
    status = 400


class RequestValidationError(AppError):
    """One entry per invalid field, in the order the fields were checked."""

    status = 400
    default_message = "Invalid request"

    def __init__(self, problems: Iterable[tuple[str, str | None]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(message for message, _ in self.problems) or None)

    def items(self) -> list[ErrorItem]:
        out: list[ErrorItem] = []
        for message, field in self.problems:
            item: ErrorItem = {"message": message}
            if field:
                item["field"] = field
            out.append(item)
        return out


class NotAuthorized(AppError):
    status = 401
    default_message = "Not Authorized"


class PaymentDeclined(AppError):
    status = 402
    default_message = "Your card was declined."


class NotFound(AppError):
    status = 404
    default_message = "Not Found"


class Conflict(AppError):
    """Someone changed the record after we read it; the caller may retry."""

    status = 409
    default_message = "The resource was changed by another request; retry"


class PayloadTooLarge(AppError):
    status = 413
    default_message = "Request body is too large"


class ServiceUnavailable(AppError):
    status = 503
    default_message = "Service temporarily unavailable"
