"""Every gateway filters with the library the secadmin imported: the one that took the
import at once, another one (a second process on the same database) once its reload
interval has passed, without a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.gateways import Gateway, chat_body
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import scratch_fixture
from tests.support.stubs import Stub
from tests.support.tokens import Tokens

RELOAD_S = 2.0
LIBRARY = "id,term,category,match,action\nR-1,重载测试词,A.1 测试,normalised,block\n".encode()


scratch = scratch_fixture("gw_content_reload")


@pytest.fixture(scope="module")
def gateways(
    services: dict[str, Any], scratch: ScratchDb, stub: Stub
) -> Iterator[tuple[Gateway, Gateway]]:
    env = {
        "APPLIANCE_DATABASE_URL": scratch.gateway_url,
        "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
        "APPLIANCE_BACKENDS": stub.url,
        "APPLIANCE_CONTENT__RELOAD_TTL_S": str(RELOAD_S),
    }
    first = Gateway(env)
    try:
        second = Gateway(env)
    except BaseException:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


def _chat(gateway: Gateway, tokens: Tokens, model: str) -> int:
    body = chat_body(model)
    body["messages"] = [{"role": "user", "content": "重载测试词"}]
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        json=body,
        headers=tokens.headers("zhang.wei"),
        timeout=60,
    )
    return response.status_code


def test_an_import_reaches_every_gateway_within_the_reload_interval(
    gateways: tuple[Gateway, Gateway], tokens: Tokens, served_model: str
) -> None:
    importer, other = gateways
    # Both have loaded the empty library: nothing is filtered yet.
    assert _chat(importer, tokens, served_model) == 200
    assert _chat(other, tokens, served_model) == 200
    imported = httpx.post(
        f"{importer.url}/api/content/keywords/import",
        content=LIBRARY,
        headers={**tokens.headers("zhao.min"), "content-type": "text/csv"},
        timeout=60,
    )
    assert imported.status_code == 200, imported.text
    imported_at = time.monotonic()
    assert _chat(importer, tokens, served_model) == 400
    while _chat(other, tokens, served_model) != 400:
        assert time.monotonic() - imported_at < RELOAD_S + 10, "the other gateway never reloaded"
        time.sleep(0.2)
