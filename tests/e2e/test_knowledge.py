"""Knowledge bases in the browser: an editor indexes a document, staff get cited answers from
their department's knowledge base, and another department never sees it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.support.e2e import AI_LABEL, ANSWER_TIMEOUT_MS, WHOLE_ANSWER_TIMEOUT_MS, ask
from tests.support.tokens import Tokens

# The demo knowledge base `appliance up` seeds for /dept/finance.
DEMO_KB = re.compile("财务制度")


def choose(page: Page, picker: str, option: re.Pattern[str] | str) -> None:
    """Pick an option of a Gradio dropdown: open its list, click the entry."""
    page.locator(f"{picker} input").click()
    page.get_by_role("option", name=option).first.click()


def demo_documents(gateway: httpx.Client, tokens: Tokens) -> list[str]:
    """The demo knowledge base's document names, as a finance staff member may read them."""
    headers = tokens.headers("zhang.wei")
    kbs = gateway.get("/api/kb", headers=headers).json()["knowledge_bases"]
    demo = next(kb for kb in kbs if DEMO_KB.search(kb["name"]))
    listed = gateway.get(f"/api/kb/{demo['id']}/documents", headers=headers).json()
    return [doc["name"] for doc in listed["documents"] if doc["status"] == "ready"]


def test_editor_uploads_a_document_sees_it_ready_and_deletes_it(
    sign_in: Callable[[str], Page], tmp_path: Path
) -> None:
    page = sign_in("li.na")
    page.get_by_role("tab", name="知识库").click()
    choose(page, "#kb-current", DEMO_KB)
    name = f"e2e-{uuid.uuid4().hex[:8]}.md"
    path = tmp_path / name
    path.write_text("# 差旅补贴\n\n出差每日伙食补贴为一百元。\n", encoding="utf-8")
    page.locator("#kb-files input[type=file]").set_input_files(path)
    page.locator("#kb-upload").click()
    expect(page.locator("#kb-status")).to_contain_text("上传完成：1 个成功")
    row = page.locator("#kb-documents").get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("就绪")

    choose(page, "#kb-document", name)
    page.locator("#kb-delete").click()
    expect(page.locator("#kb-status")).to_contain_text("已删除")
    expect(row).to_have_count(0)


def test_staff_answer_from_the_finance_kb_cites_a_document_and_keeps_it(
    sign_in: Callable[[str], Page], gateway: httpx.Client, tokens: Tokens
) -> None:
    documents = demo_documents(gateway, tokens)
    page = sign_in("zhang.wei")
    choose(page, "#kb-picker", DEMO_KB)
    marker = f"e2e-{uuid.uuid4().hex[:8]}"
    ask(page, f"差旅费报销有什么规定？({marker})")
    chat = page.locator("#chatbot")
    expect(chat).to_contain_text(AI_LABEL, timeout=ANSWER_TIMEOUT_MS)
    cited = re.compile(r"\[1\] (" + "|".join(map(re.escape, documents)) + ")")
    expect(chat).to_contain_text(cited, timeout=WHOLE_ANSWER_TIMEOUT_MS)

    # The citations are stored with the answer: a reopened conversation shows them again.
    page.reload()
    page.locator("#conversations").get_by_text(marker).click()
    expect(chat).to_contain_text(cited)
    expect(chat).to_contain_text(AI_LABEL)


def test_other_departments_do_not_see_the_finance_kb(sign_in: Callable[[str], Page]) -> None:
    page = sign_in("wang.fang")
    # The picker is filled by the same page load as the quota.
    expect(page.locator("#quota")).to_contain_text("tokens")
    expect(page.get_by_role("tab", name="知识库")).to_have_count(0)
    page.locator("#kb-picker input").click()
    expect(page.get_by_role("option", name=DEMO_KB)).to_have_count(0)
