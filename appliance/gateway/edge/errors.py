"""The gateway's one error edge: every failure leaves as OpenAI's error shape.

Domain code raises :class:`~appliance.errors.ApplianceError` subclasses (a field that fails
validation raises :class:`InvalidParam`, which names it); FastAPI raises
``RequestValidationError`` and Starlette ``HTTPException`` (unknown route, wrong method).
All of them, and anything unexpected, go through :func:`handle_error`, so clients (the
official ``openai`` library among them) always get ``{"error": {...}}`` and never a stack
trace. Unexpected exceptions are logged here with the request id, which the client also
receives in ``X-Request-ID`` and can quote to an operator.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match

from appliance.errors import ApplianceError, InvalidRequest

log = logging.getLogger("appliance.gateway")

_STARLETTE_TYPES = {
    401: ("authentication_error", "unauthenticated"),
    403: ("permission_error", "forbidden"),
    404: ("invalid_request_error", "not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
}


class InvalidParam(InvalidRequest):
    """400 that names the offending request field in OpenAI's ``param``."""

    def __init__(self, message: str, *, param: str | None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.param = param


def error_body(message: str, error_type: str, code: str, param: str | None = None) -> bytes:
    """Serialise OpenAI's error object; ``param`` names the offending field, if one."""
    return orjson.dumps(
        {"error": {"message": message, "type": error_type, "code": code, "param": param}}
    )


def render_error(exc: ApplianceError, param: str | None = None) -> Response:
    """Turn a domain error into a response; also used where no handler can run (streams)."""
    return Response(
        error_body(exc.message, exc.error_type, exc.code, param),
        status_code=exc.status_code,
        headers=exc.headers,
        media_type="application/json",
    )


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    errors = exc.errors()
    if not errors:
        return "The request is invalid.", None
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    param = ".".join(loc) or None
    where = f" ({param})" if param else ""
    return f"Invalid request{where}: {first.get('msg', 'invalid value')}.", param


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method the path answers, for a 405's ``Allow``: FastAPI has one route per
    method, and its own header names only the methods of the route that matched first."""
    scope = {key: value for key, value in request.scope.items() if key != "route"}
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**scope, "method": method})[0] is Match.FULL
            for route in request.app.routes
        )
    )


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


async def handle_error(request: Request, exc: Exception) -> Response:
    """Map any exception to OpenAI's error shape (registered for every exception type)."""
    if isinstance(exc, ApplianceError):
        return render_error(exc, getattr(exc, "param", None))
    if isinstance(exc, RequestValidationError):
        message, param = _validation_message(exc)
        return Response(
            error_body(message, "invalid_request_error", "invalid_request", param),
            status_code=422,
            media_type="application/json",
        )
    if isinstance(exc, HTTPException):
        error_type, code = _STARLETTE_TYPES.get(exc.status_code, ("server_error", "http_error"))
        message = exc.detail if isinstance(exc.detail, str) else "Request failed."
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return Response(
            error_body(message, error_type, code),
            status_code=exc.status_code,
            headers=headers,
            media_type="application/json",
        )
    log.error("unhandled error in request %s", _request_id(request), exc_info=exc)
    return Response(
        error_body(
            f"Internal error; quote request id {_request_id(request)} to the operator.",
            "server_error",
            "internal_error",
        ),
        status_code=500,
        media_type="application/json",
    )


def install_error_handler(app: FastAPI) -> None:
    """Register :func:`handle_error` as the single handler for every error class."""
    for exc_class in (ApplianceError, RequestValidationError, HTTPException, Exception):
        app.add_exception_handler(exc_class, handle_error)
