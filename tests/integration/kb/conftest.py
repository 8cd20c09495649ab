"""Fixtures of the knowledge-base API tests, against the running appliance's gateway.

Each test module gets its own finance knowledge base (unique name) owned by
``/dept/finance`` and managed by the demo kb-editor li.na; it is deleted afterwards, so the
runtime's own data (the demo knowledge base included) is left as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.kb import EDITOR

if TYPE_CHECKING:
    from tests.support.tokens import Tokens


@pytest.fixture(scope="module")
def kb_client(gateway_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway_url, timeout=300) as client:
        yield client


@pytest.fixture(scope="module")
def finance_kb(kb_client: httpx.Client, tokens: Tokens) -> Iterator[dict[str, Any]]:
    response = kb_client.post(
        "/api/kb",
        json={"name": f"kb-test-{uuid.uuid4().hex[:8]}", "group": "/dept/finance"},
        headers=tokens.headers(EDITOR),
    )
    assert response.status_code == 201, response.text
    kb = dict(response.json())
    yield kb
    kb_client.delete(f"/api/kb/{kb['id']}", headers=tokens.headers(EDITOR))
