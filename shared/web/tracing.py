"""Binding each request's trace (``X-Request-Id``, ``traceparent``) while it is handled."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from shared.tracing import REQUEST_ID_HEADER, TRACEPARENT_HEADER, bound, trace_from


@web.middleware
async def trace_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost: everything logged or emitted for the request carries its id.

    The id goes back in the response (the access log reads it from there).
    """
    headers = request.headers
    trace = trace_from(headers.get(REQUEST_ID_HEADER), headers.get(TRACEPARENT_HEADER))
    with bound(trace):
        response = await handler(request)
    response.headers[REQUEST_ID_HEADER] = trace.request_id
    return response
