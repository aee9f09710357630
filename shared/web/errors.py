"""The one JSON error middleware: every failure leaves as ``{"errors": [...]}``."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler
from pymongo.errors import ConnectionFailure

from shared.errors import AppError, ErrorItem, ServiceUnavailable

log = logging.getLogger(__name__)

GENERIC_MESSAGE = "Something went wrong"

# aiohttp's own HTTP errors (routing, body size) get the same body shape, with our wording.
_HTTP_MESSAGES = {
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request body is too large",
}


class Forbidden(AppError):
    """Refused whoever asks (a cross-site request); not about who is signed in."""

    status = 403
    default_message = "Forbidden"


class UnsupportedMediaType(AppError):
    """A body the API does not read: anything but JSON."""

    status = 415
    default_message = "Request body must be JSON (Content-Type: application/json)"


def error_body(items: list[ErrorItem], status: int) -> web.Response:
    return web.json_response({"errors": items}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except AppError as exc:
        return error_body(exc.items(), exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and 2xx raised as exceptions pass through
        message = _HTTP_MESSAGES.get(exc.status, exc.reason)
        response = error_body([{"message": message}], exc.status)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except ConnectionFailure as exc:
        # The database is unreachable (server selection timed out, a connection dropped):
        # the caller may retry, and /readyz already says so.
        log.warning("database unavailable on %s %s: %r", request.method, request.path, exc)
        return error_body(ServiceUnavailable().items(), ServiceUnavailable.status)
    except Exception:
        # The traceback goes to the log, never to the client.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_body([{"message": GENERIC_MESSAGE}], 500)
