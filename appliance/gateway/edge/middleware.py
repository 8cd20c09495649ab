"""Plain ASGI middleware for what every request needs: an id, a start time, metrics.

Written against raw ASGI rather than ``BaseHTTPMiddleware`` because it sits on the hot
path and must not buffer streamed answers. The request id comes from a well-formed
``X-Request-ID`` header (so a proxy's id carries through) or is generated, is returned in
the response header, and is what audit events and error logs quote.
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.gateway.edge.metrics import GatewayMetrics

_VALID_ID = re.compile(rb"[A-Za-z0-9._:-]{8,128}")


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            return value.decode() if _VALID_ID.fullmatch(value) else None
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["started_at"] = started_at
        status = 500
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(template, scope["method"], str(status)).inc()
            self.metrics.duration.labels(template).observe(time.perf_counter() - started_at)
