"""Malformed and oversized requests: OpenAI-shaped 400/404/413/422, never a stack trace."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.gateways import chat_body

if TYPE_CHECKING:
    from tests.support.tokens import Tokens

MESSAGE = {"role": "user", "content": "hi"}


def _assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert "Traceback" not in response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    return dict(error)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [MESSAGE]}, "model"),
        ({"model": 7, "messages": [MESSAGE]}, "model"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": [MESSAGE], "stream": "yes"}, "stream"),
        ({"model": "m", "messages": [MESSAGE], "max_tokens": 10**6}, "max_tokens"),
        (
            {"model": "m", "messages": [MESSAGE], "max_completion_tokens": 10**6},
            "max_completion_tokens",
        ),
        ({"model": "m", "messages": [MESSAGE] * 10_000}, "messages"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(
    gateway: httpx.Client, tokens: Tokens, body: dict[str, Any], param: str
) -> None:
    response = gateway.post("/v1/chat/completions", json=body, headers=tokens.headers("zhang.wei"))
    error = _assert_openai_error(response, 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_malformed_json_is_400(gateway: httpx.Client, tokens: Tokens) -> None:
    response = gateway.post(
        "/v1/chat/completions",
        content=b'{"model": "m", "messages": [',
        headers={**tokens.headers("zhang.wei"), "content-type": "application/json"},
    )
    assert _assert_openai_error(response, 400)["code"] == "invalid_json"


def test_unknown_model_is_404(gateway: httpx.Client, tokens: Tokens) -> None:
    response = gateway.post(
        "/v1/chat/completions",
        json=chat_body("no-such-model"),
        headers=tokens.headers("zhang.wei"),
    )
    assert _assert_openai_error(response, 404)["code"] == "model_not_found"


def test_oversized_body_is_413_by_content_length(
    gateway: httpx.Client, tokens: Tokens, served_model: str
) -> None:
    huge = chat_body(served_model, messages=[{"role": "user", "content": "x" * 2_000_000}])
    response = gateway.post("/v1/chat/completions", json=huge, headers=tokens.headers("zhang.wei"))
    _assert_openai_error(response, 413)


def test_oversized_chunked_body_is_413(gateway: httpx.Client, tokens: Tokens) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"model": "m", "messages": [{"role": "user", "content": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}]}'

    response = gateway.post(
        "/v1/chat/completions",
        content=chunks(),
        headers={**tokens.headers("zhang.wei"), "content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    _assert_openai_error(response, 413)


def test_bad_query_parameters_are_422(gateway: httpx.Client, tokens: Tokens) -> None:
    response = gateway.get(
        "/api/audit/events", params={"limit": "lots"}, headers=tokens.headers("liu.yang")
    )
    assert _assert_openai_error(response, 422)["param"] == "limit"


def test_unknown_routes_and_methods_are_openai_shaped(gateway: httpx.Client) -> None:
    _assert_openai_error(gateway.get("/v1/nothing-here"), 404)
    _assert_openai_error(gateway.get("/v1/chat/completions"), 405)


def test_client_leaving_mid_body_is_not_an_internal_error(
    gateway_url: str, gateway: httpx.Client, tokens: Tokens
) -> None:
    """A client that hangs up while sending its body leaves no "unhandled error" behind."""
    log_file = Path("var/log/gateway.log")
    before = log_file.read_text(errors="replace").count("unhandled error")
    url = urlsplit(gateway_url)
    headers = "".join(f"{k}: {v}\r\n" for k, v in tokens.headers("zhang.wei").items())
    request = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: 5000\r\n{headers}\r\n"
    ).encode() + b'{"model": "m", "messages": ['
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(request)
    # The gateway keeps serving, and logged no internal error for the departed client.
    assert gateway.get("/healthz").status_code == 200
    gateway.get("/v1/models", headers=tokens.headers("zhang.wei"))
    assert log_file.read_text(errors="replace").count("unhandled error") == before
