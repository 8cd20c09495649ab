"""What the browser tests and the screenshot generator share: the browser, the screen,
how long an answer may take, Keycloak's login form, signing in, asking the web UI a question
and saving a file a screen offers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A 1366x768 laptop screen, minus the browser's own chrome.
VIEWPORT = {"width": 1366, "height": 680}
# Answers from the CPU demo model take seconds; Playwright's expectations wait this long.
ANSWER_TIMEOUT_MS = 180_000
# Citations arrive after an answer's last token, so a cited answer is waited for whole: up
# to the web UI's max_tokens from the CPU model on the shared cores of a test machine.
WHOLE_ANSWER_TIMEOUT_MS = 420_000
# What the web UI writes under every answer of the model.
AI_LABEL = "由人工智能生成"


def ask(page: Page, question: str) -> None:
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")


def keycloak_sign_in(page: Page, username: str, password: str) -> None:
    """Fill in Keycloak's own login form."""
    expect(page.locator("#kc-form-login")).to_be_visible()
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#kc-login")


def sign_in_at(
    url: str, users: Iterable[Mapping[str, Any]], new_page: Callable[[], Page]
) -> Callable[[str], Page]:
    """Sign a demo user (one of ``users``, with their passwords) in to the web UI at ``url``
    through the real Keycloak login page, each in a new page of ``new_page``."""
    passwords = {user["username"]: user["password"] for user in users}

    def sign_in_as(username: str) -> Page:
        page = new_page()
        page.goto(url)
        keycloak_sign_in(page, username, passwords[username])
        page.wait_for_url(f"{url}/**")
        return page

    return sign_in_as


def download(page: Page, button: str, folder: Path) -> Path:
    """Click an export button of the keyword library screen and save the file it then offers
    into ``folder``."""
    page.locator(button).click()
    link = page.locator("#kw-download a").first
    expect(link).to_be_visible()
    with page.expect_download() as started:
        link.click()
    path = folder / started.value.suggested_filename
    started.value.save_as(path)
    return path
