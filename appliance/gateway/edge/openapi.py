"""The gateway's OpenAPI document: every route, its bodies and every status it can answer.

Served at ``/openapi.json`` to AUTHENTICATED callers only (any valid access token, no role
needed). A security officer expects an appliance not to hand its full surface (admin and
audit routes included) to anyone on the network who asks; everyone who may use the API at
all may read how to use it, and the document contains no data. Fetching it is not audited,
like ``/metrics``: it carries no user content; a refused fetch is (``auth.failure``).

The document is meant to be true, and the chaos suite checks it with schemathesis: a status
a route can answer is listed with its body, errors as OpenAI's ``{"error": {...}}`` object.
Three routes read their bodies themselves (size limit first, then strict validation), so
their request bodies are declared here from the same pydantic models the handlers use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_SCHEMAS = "#/components/schemas/"


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str
    param: str | None


class ErrorBody(BaseModel):
    """OpenAI's error shape: every non-2xx answer of the gateway except ``/readyz``'s 503."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "The request is invalid (OpenAI's invalid_request_error).",
    401: "No, or no valid, bearer token; the refusal is audited.",
    403: "The caller lacks the role or group this needs; audited.",
    404: "No such model, knowledge base, document or conversation for this caller.",
    409: "It clashes with what exists (a knowledge base of that name).",
    413: "The body exceeds the configured size limit.",
    422: "A path, query or body field failed validation.",
    429: "The caller's own concurrency or daily token limit.",
    502: "The model backend failed.",
    503: "The appliance cannot serve now (audit store, signing keys or backends).",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}},
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer challenge.", "schema": {"type": "string"}}},
    429: _RETRY_AFTER,
    503: _RETRY_AFTER,
}

# Every route that takes a token can answer these: 503 when an unknown signing key must be
# fetched from Keycloak and cannot be.
AUTHENTICATED = (401, 503)


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the error statuses a route can answer."""
    entries: dict[int | str, dict[str, Any]] = {}
    for code in sorted(set(codes)):
        entry: dict[str, Any] = {"model": ErrorBody, "description": _DESCRIPTIONS[code]}
        if code in _HEADERS:
            entry["headers"] = _HEADERS[code]
        entries[code] = entry
    return entries


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route that reads and validates a JSON body itself."""
    schema = {"$ref": _SCHEMAS + model.__name__}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def multipart_body(model: type[BaseModel]) -> dict[str, Any]:
    schema = {"$ref": _SCHEMAS + model.__name__}
    content = {"multipart/form-data": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


# Adjusts the finished ``components.schemas`` (to state configured caps, for instance).
SchemaAdjuster = Callable[[dict[str, Any]], None]


def install_openapi(
    app: FastAPI, extra_models: tuple[type[BaseModel], ...], adjust: SchemaAdjuster
) -> None:
    """Build the document once, adding the models only ``openapi_extra`` refers to.

    ``description`` is this module's docstring: it tells a reader of the document who may
    fetch it and how it is kept true.
    """

    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=__doc__, routes=app.routes
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in extra_models:
            schema = model.model_json_schema(ref_template=_SCHEMAS + "{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        adjust(schemas)
        app.openapi_schema = document
        return document

    app.openapi = build  # type: ignore[method-assign]
