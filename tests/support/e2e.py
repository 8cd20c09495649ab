"""What the browser tests and the screenshot generator share: the browser, the screen,
how long an answer may take, Keycloak's login form, and asking the web UI a question."""

from __future__ import annotations

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
