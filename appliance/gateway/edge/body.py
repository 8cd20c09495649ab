"""Reading and validating a request body: the one place that turns bytes into a model.

Routes whose bodies must be bounded before they are parsed (chat, embeddings, uploads) read
them here, with the size limit checked first, and every validation failure becomes the
same :class:`~appliance.gateway.edge.errors.InvalidParam` (400 ``invalid_request_error``
naming the first offending field), which :mod:`~appliance.gateway.edge.errors` renders.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request

from appliance.errors import ClientClosedRequest, PayloadTooLarge
from appliance.gateway.edge.errors import InvalidParam

Model = TypeVar("Model", bound=BaseModel)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed the limit.

    Content-Length is checked first; the streamed count catches chunked uploads and
    clients that understate the length.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"The request body exceeds the limit of {max_bytes} bytes.")
    parts: list[bytes] = []
    size = 0
    try:
        async for part in request.stream():
            size += len(part)
            if size > max_bytes:
                raise PayloadTooLarge(f"The request body exceeds the limit of {max_bytes} bytes.")
            parts.append(part)
    except ClientDisconnect as exc:
        # Nothing was admitted yet: no slot to release, nothing sent upstream.
        raise ClientClosedRequest("The client closed the connection before its request.") from exc
    return b"".join(parts)


def _invalid(exc: ValidationError, prefix: tuple[str, ...]) -> InvalidParam:
    """The first error of ``exc`` as a 400 naming its field (under ``prefix``, if one)."""
    first = exc.errors(include_url=False)[0]
    param = ".".join([*prefix, *(str(part) for part in first["loc"])]) or None
    return InvalidParam(f"Invalid value for '{param}': {first['msg']}.", param=param)


def validate(model: type[Model], data: object, *, prefix: tuple[str, ...] = ()) -> Model:
    """``data`` (already parsed JSON) as ``model``; ``prefix`` names where it sits in the
    request, so a nested object's errors name the full path (``rag.top_k``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, prefix) from exc


def validate_json(model: type[Model], raw: bytes) -> Model:
    """``raw`` JSON text as ``model``; malformed JSON is reported like any invalid field."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _invalid(exc, ()) from exc


async def read_model(request: Request, model: type[Model], max_bytes: int) -> Model:
    """The body within ``max_bytes`` (413 beyond), validated as ``model`` (400)."""
    return validate_json(model, await read_body(request, max_bytes))
