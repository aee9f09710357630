"""``GET /metrics`` and the middleware that counts and times every request."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.metrics import HTTP_LATENCY, HTTP_REQUESTS

metrics_routes = web.RouteTableDef()

# Requests that matched no route share one label, so probing random paths cannot
# create unbounded label values.
UNMATCHED = "unmatched"


def route_template(request: web.Request) -> str:
    """``/api/orders/{id}`` rather than the concrete path: bounded label values."""
    match_info = request.match_info
    resource = match_info.route.resource
    if match_info.http_exception is not None or resource is None:
        return UNMATCHED  # 404 / 405 from routing
    return resource.canonical


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outside the error middleware, so it sees the status the client gets."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = route_template(request)
        HTTP_REQUESTS.labels(route, request.method, str(status)).inc()
        HTTP_LATENCY.labels(route, request.method).observe(time.perf_counter() - started)


@metrics_routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
