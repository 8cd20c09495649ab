"""Personal API keys in the browser: a staff user makes a key in the 密钥 tab of the running
web UI, an OpenAI client chats with it through the running gateway, the user revokes it in
the tab after confirming, and the same key is then refused; the tab also reads in English.
A key limited to a knowledge base is made in the web UI of this working tree (the e2e
conftest's ``tree``), which the running appliance may not serve yet."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import httpx
import openai
import pytest
from playwright.sync_api import Page, expect

from tests.support.e2e import ANSWER_TIMEOUT_MS
from tests.support.tokens import Tokens
from tests.support.tree_webui import TreeWebUI

STAFF = "zhang.wei"
# A knowledge-base editor of the staff user's department.
EDITOR = "li.na"


def _open_keys_tab(page: Page, tab: str) -> None:
    """Open the keys tab once the page has loaded (the load selects the user's first tab)."""
    expect(page.locator("#current-user")).to_contain_text(STAFF)
    page.get_by_role("tab", name=tab).click()


def _chat(gateway_url: str, key: str, model: str) -> str:
    """One short chat with ``key``, as a customer's program would make it."""
    client = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=key, max_retries=0)
    answer = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=8,
        timeout=ANSWER_TIMEOUT_MS / 1000,
    )
    return answer.choices[0].finish_reason or ""


def test_staff_makes_a_key_chats_with_it_and_revokes_it(
    sign_in: Callable[[str], Page], gateway_url: str, served_model: str
) -> None:
    page = sign_in(STAFF)
    _open_keys_tab(page, "密钥")
    expect(page.locator("#keys-count")).to_contain_text("个密钥")
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    page.locator("#keys-name [data-testid=textbox]").fill(name)
    expect(page.locator("#keys-days input")).to_have_value("90")
    page.locator("#keys-create").click()

    expect(page.locator("#keys-secret-warning")).to_contain_text("只显示这一次")
    box = page.locator("#keys-secret [data-testid=textbox]")
    expect(box).to_have_value(re.compile(r"^sk-appl-"))
    key = box.input_value()
    table = page.locator("#keys-table")
    expect(table).to_contain_text(name)
    expect(table).to_contain_text(key[:16])
    expect(table).not_to_contain_text(key)

    assert _chat(gateway_url, key, served_model)

    # Leaving the tab takes the key off the page.
    page.get_by_role("tab", name="对话").click()
    page.get_by_role("tab", name="密钥").click()
    expect(page.locator("#keys-secret-box")).to_be_hidden()

    page.locator("#keys-revoke-pick input").click()
    page.get_by_role("option", name=re.compile(name)).first.click()
    page.locator("#keys-revoke").click()
    expect(page.locator("#keys-confirm-text")).to_contain_text(name)
    page.locator("#keys-revoke-yes").click()
    expect(page.locator("#keys-status")).to_contain_text(f"已吊销密钥「{name}」")
    expect(table.get_by_role("row", name=re.compile(name))).to_contain_text("已吊销")

    with pytest.raises(openai.AuthenticationError) as refused:
        _chat(gateway_url, key, served_model)
    assert refused.value.status_code == 401


def test_the_keys_tab_reads_in_english(sign_in: Callable[[str], Page]) -> None:
    page = sign_in(STAFF)
    page.locator("#language").click()
    _open_keys_tab(page, "API keys")
    expect(page.locator("#keys-table")).to_contain_text("Allowed source addresses")
    expect(page.locator("#keys-create")).to_have_text("Create key")
    expect(page.locator("#keys-revoke")).to_have_text("Revoke")
    expect(page.locator("#keys-count")).to_contain_text("keys, newest first")


def test_staff_limits_a_key_to_a_knowledge_base_they_may_read(
    tree: TreeWebUI, tree_sign_in: Callable[[str], Page], tokens: Tokens
) -> None:
    kb_name = f"e2e-kb-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{tree.gateway_url}/api/kb",
        headers={"Authorization": f"Bearer {tokens(EDITOR)}"},
        json={"name": kb_name, "group": "/dept/finance"},
        timeout=30,
    )
    assert created.status_code == 201, created.text

    page = tree_sign_in(STAFF)
    _open_keys_tab(page, "密钥")
    expect(page.locator("#keys-count")).to_contain_text("个密钥")
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    page.locator("#keys-name [data-testid=textbox]").fill(name)
    page.locator("#keys-kb-scope input").click()
    page.get_by_role("option", name=kb_name).click()
    page.keyboard.press("Escape")
    page.locator("#keys-create").click()

    expect(page.locator("#keys-secret [data-testid=textbox]")).to_have_value(
        re.compile(r"^sk-appl-")
    )
    row = page.locator("#keys-table").get_by_role("row", name=re.compile(name))
    expect(row).to_contain_text(kb_name)
    expect(page.locator("#keys-table")).to_contain_text("可检索的知识库")
