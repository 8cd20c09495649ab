"""Browser fixtures: Debian's chromium driven by Playwright, signing in through the real
Keycloak login page of the running appliance (``appliance up`` starts the web UI too)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

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

expect.set_options(timeout=30_000)


@pytest.fixture(scope="session")
def webui_url(endpoints: dict[str, Any]) -> str:
    url = str(endpoints["webui_url"])
    try:
        healthy = httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        healthy = False
    if not healthy:
        pytest.fail(f"the web UI at {url} does not answer: run `appliance up`")
    return url


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One browser for the browser tests, closed when they end: Playwright's sync API keeps
    its event loop installed as the running one while it is open, and later suites that
    start their own loops (``asyncio.run``) must not find it there."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Fresh browser contexts (no cookies shared between users), closed after the test."""
    contexts = []

    def make() -> Page:
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def keycloak_sign_in(page: Page, username: str, password: str) -> None:
    """Fill in Keycloak's own login form."""
    expect(page.locator("#kc-form-login")).to_be_visible()
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#kc-login")


@pytest.fixture
def sign_in(
    webui_url: str, endpoints: dict[str, Any], new_page: Callable[[], Page]
) -> Callable[[str], Page]:
    """Open the web UI in a new context and sign in as a demo user."""
    passwords = {user["username"]: user["password"] for user in endpoints["users"]}

    def sign_in_as(username: str) -> Page:
        page = new_page()
        page.goto(webui_url)
        keycloak_sign_in(page, username, passwords[username])
        page.wait_for_url(f"{webui_url}/**")
        return page

    return sign_in_as
