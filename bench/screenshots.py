"""Regenerate the screenshots of the web UI's main screens in ops/screenshots/ (used by the
user guides): ``make screenshots`` against the running appliance, at 1366x768."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.e2e import (
    ANSWER_TIMEOUT_MS,
    CHROMIUM,
    CHROMIUM_ARGS,
    WHOLE_ANSWER_TIMEOUT_MS,
    keycloak_sign_in,
)
from tests.support.paths import REPO

OUT = REPO / "ops" / "screenshots"
SCREEN = {"width": 1366, "height": 768}


def _page(browser: Browser, lang: str) -> Page:
    context = browser.new_context(viewport=SCREEN, locale="zh-CN" if lang == "zh" else "en-US")
    return context.new_page()


def _signed_in(browser: Browser, url: str, user: str, password: str, lang: str) -> Page:
    page = _page(browser, lang)
    page.goto(f"{url}/lang/{lang}")
    keycloak_sign_in(page, user, password)
    page.wait_for_url(f"{url}/{lang}/")
    expect(page.locator("#current-user")).to_contain_text(user)
    return page


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(OUT / f"{name}.png"))
    print(OUT / f"{name}.png")


def _choose(page: Page, picker: str, option: str) -> None:
    page.locator(f"{picker} input").click()
    page.get_by_role("option", name=re.compile(option)).first.click()


def _knowledge(browser: Browser, url: str, password: str) -> None:
    """The editor's view after uploading a good file and an empty one (which fails with a
    translated reason); both are deleted again so the demo knowledge base stays as seeded."""
    editor = _signed_in(browser, url, "li.na", password, "zh")
    editor.get_by_role("tab", name="知识库").click()
    _choose(editor, "#kb-current", "财务制度")
    folder = Path(tempfile.mkdtemp(prefix="screenshots-"))
    good, empty = folder / "会议费管理办法.md", folder / "空白文件.txt"
    good.write_text("# 会议费\n\n内部会议原则上不安排宴请。\n", encoding="utf-8")
    empty.write_bytes(b"")
    editor.locator("#kb-files input[type=file]").set_input_files([good, empty])
    editor.locator("#kb-upload").click()
    expect(editor.locator("#kb-status")).to_contain_text("上传完成")
    _shot(editor, "knowledge")
    for name in (good.name, empty.name):
        _choose(editor, "#kb-document", name)
        editor.locator("#kb-delete").click()
        expect(editor.locator("#kb-status")).to_contain_text(name)


def _cited_answer(browser: Browser, url: str, password: str) -> None:
    """A question over the demo finance knowledge base, with its first citation opened."""
    staff = _signed_in(browser, url, "zhang.wei", password, "zh")
    _choose(staff, "#kb-picker", "财务制度")
    box = staff.locator("#question textarea")
    box.fill("在上海出差，住宿费每晚最多能报销多少？")
    box.press("Enter")
    chat = staff.locator("#chatbot")
    first = chat.get_by_text(re.compile(r"^\[1\] "))
    expect(first).to_be_visible(timeout=WHOLE_ANSWER_TIMEOUT_MS)
    first.click()
    expect(chat.locator("blockquote").first).to_be_visible()
    _shot(staff, "chat-cited")


def main() -> None:
    endpoints = json.loads((REPO / "var" / "endpoints.json").read_text())
    url = endpoints["webui_url"]
    passwords = {u["username"]: u["password"] for u in endpoints["users"]}
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        login = _page(browser, "zh")
        login.goto(url)
        expect(login.locator("#kc-form-login")).to_be_visible()
        _shot(login, "login")
        for lang, question in (
            ("zh", "什么是内存带宽？请简单解释。"),
            ("en", "What is the capital of France?"),
        ):
            staff = _signed_in(browser, url, "zhang.wei", passwords["zhang.wei"], lang)
            box = staff.locator("#question textarea")
            box.fill(question)
            box.press("Enter")
            expect(staff.locator("#chatbot")).to_contain_text(
                "AI-generated", timeout=ANSWER_TIMEOUT_MS
            )
            staff.locator("#stop").click()
            _shot(staff, f"chat-{lang}")
        _knowledge(browser, url, passwords["li.na"])
        _cited_answer(browser, url, passwords["zhang.wei"])
        auditor = _signed_in(browser, url, "liu.yang", passwords["liu.yang"], "zh")
        auditor.locator("#audit-user input").fill("zhang.wei")
        auditor.locator("#audit-search").click()
        events = auditor.locator("#audit-events")
        expect(events.get_by_role("gridcell", name="chat.begin").first).to_be_visible()
        events.get_by_role("gridcell", name="chat.begin").first.click()
        expect(auditor.locator("#audit-detail")).to_contain_text("chat.begin")
        _shot(auditor, "audit")
        auditor.locator("#audit-verify").click()
        expect(auditor.locator("#audit-status")).to_contain_text("审计链")
        _shot(auditor, "audit-verify")
        admin = _signed_in(browser, url, "chen.jie", passwords["chen.jie"], "zh")
        expect(admin.locator("#admin-backends")).to_contain_text("正常")
        expect(admin.locator("#admin-users")).to_contain_text("zhang.wei")
        _shot(admin, "admin")
        nobody = _page(browser, "zh")
        nobody.goto(url)
        keycloak_sign_in(nobody, "sun.li", passwords["sun.li"])
        expect(nobody.locator("#page-title")).to_be_visible()
        _shot(nobody, "no-access")
        browser.close()


if __name__ == "__main__":
    main()
