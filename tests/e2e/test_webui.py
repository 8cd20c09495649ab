"""The web UI end to end: real Keycloak login page, real gateway, real model, in chromium."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.support.e2e import AI_LABEL, ANSWER_TIMEOUT_MS, ask


def test_staff_chat_streams_a_labelled_answer_that_the_auditor_finds(
    sign_in: Callable[[str], Page],
) -> None:
    staff = sign_in("zhang.wei")
    expect(staff.locator("#current-user")).to_contain_text("zhang.wei")
    expect(staff.get_by_role("tab", name="对话")).to_be_visible()
    expect(staff.get_by_role("tab", name="审计")).to_have_count(0)
    expect(staff.locator("#quota")).to_contain_text("tokens")

    marker = f"e2e-{uuid.uuid4().hex[:8]}"
    question = f"What is the capital of France? ({marker})"
    ask(staff, question)
    chat = staff.locator("#chatbot")
    expect(chat).to_contain_text(marker)
    expect(chat).to_contain_text(AI_LABEL, timeout=ANSWER_TIMEOUT_MS)
    expect(staff.locator("#conversations")).to_contain_text(marker)

    auditor = sign_in("liu.yang")
    expect(auditor.get_by_role("tab", name="审计")).to_be_visible()
    expect(auditor.get_by_role("tab", name="对话")).to_have_count(0)
    auditor.locator("#audit-user input").fill("zhang.wei")
    auditor.locator("#audit-keyword input").fill(marker)
    auditor.locator("#audit-search").click()
    events = auditor.locator("#audit-events")
    expect(events).to_contain_text(marker)
    events.get_by_role("gridcell", name=re.compile(marker)).first.click()
    expect(auditor.locator("#audit-detail")).to_contain_text(marker)

    auditor.locator("#audit-verify").click()
    expect(auditor.locator("#audit-status")).to_contain_text("审计链完整")


def test_stop_keeps_the_partial_answer_in_the_history(sign_in: Callable[[str], Page]) -> None:
    page = sign_in("wang.fang")
    marker = f"e2e-{uuid.uuid4().hex[:8]}"
    ask(page, f"({marker}) Write a very long story about a dragon and a castle")
    expect(page.locator("#chatbot")).to_contain_text(AI_LABEL, timeout=ANSWER_TIMEOUT_MS)
    page.locator("#stop").click()
    page.reload()
    entry = page.locator("#conversations").get_by_text(marker)
    expect(entry).to_be_visible()
    entry.click()
    chat = page.locator("#chatbot")
    expect(chat).to_contain_text(marker)
    expect(chat).to_contain_text("已停止生成")
    expect(chat).to_contain_text(AI_LABEL)


def test_other_users_do_not_see_a_conversation(sign_in: Callable[[str], Page]) -> None:
    owner = sign_in("zhang.wei")
    marker = f"e2e-{uuid.uuid4().hex[:8]}"
    ask(owner, f"Name a colour ({marker})")
    expect(owner.locator("#conversations")).to_contain_text(marker)
    other = sign_in("li.na")
    expect(other.locator("#current-user")).to_contain_text("li.na")
    expect(other.locator("#quota")).to_contain_text("tokens")
    expect(other.locator("#conversations")).not_to_contain_text(marker)


def test_sign_out_returns_to_the_keycloak_login_page(
    sign_in: Callable[[str], Page], webui_url: str
) -> None:
    page = sign_in("zhang.wei")
    page.locator("#sign-out").click()
    expect(page.locator("#kc-form-login")).to_be_visible()
    # Keycloak's session ended too: opening the UI asks for the password again.
    page.goto(webui_url)
    expect(page.locator("#kc-form-login")).to_be_visible()


def test_user_without_a_role_sees_no_access(sign_in: Callable[[str], Page]) -> None:
    page = sign_in("sun.li")
    expect(page).to_have_url(re.compile(r"/noaccess$"))
    expect(page.locator("#page-title")).to_have_text("无权访问")


def test_sysadmin_sees_backend_health_only(sign_in: Callable[[str], Page]) -> None:
    page = sign_in("chen.jie")
    expect(page.get_by_role("tab", name="管理")).to_be_visible()
    expect(page.get_by_role("tab", name="对话")).to_have_count(0)
    expect(page.get_by_role("tab", name="审计")).to_have_count(0)
    expect(page.locator("#admin-backends")).to_contain_text("正常")
    expect(page.locator("#admin-backends")).to_contain_text("排队请求")
    # Usage per user and department, counts only.
    expect(page.locator("#admin-error-rate")).to_contain_text("错误率")
    expect(page.locator("#admin-users")).to_contain_text("zhang.wei")
    expect(page.locator("#admin-departments")).to_contain_text("/dept/finance")


def test_english_is_selectable(sign_in: Callable[[str], Page]) -> None:
    page = sign_in("zhang.wei")
    page.locator("#language").click()
    expect(page.get_by_role("tab", name="Chat")).to_be_visible()
    expect(page.locator("#sign-out")).to_have_text("Sign out")
