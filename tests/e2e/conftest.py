"""Browser fixtures: Debian's chromium driven by Playwright, signing in through the real
Keycloak login page of the running appliance (``appliance up`` starts the web UI too), or of
one web UI and gateway of this working tree that every test needing them shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.e2e import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, sign_in_at
from tests.support.tree_webui import TreeWebUI, tree_webui

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


@pytest.fixture
def sign_in(
    webui_url: str, endpoints: dict[str, Any], new_page: Callable[[], Page]
) -> Callable[[str], Page]:
    """Open the web UI in a new context and sign in as a demo user."""
    return sign_in_at(webui_url, endpoints["users"], new_page)


@pytest.fixture(scope="package")
def tree(
    services: dict[str, Any], served_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TreeWebUI]:
    """A web UI and a gateway of this working tree (``tests.support.tree_webui``), started
    once for every browser test that needs them and stopped when the browser tests end:
    starting them (a migrated database, the gateway with its embedding model, the web UI
    with Gradio) takes about 20 s on two cores. Tests sharing them keep to data of their
    own (unique markers)."""
    with tree_webui(services, served_model, tmp_path_factory.mktemp("webui"), "e2e_tree") as ui:
        yield ui


@pytest.fixture
def tree_sign_in(
    tree: TreeWebUI, services: dict[str, Any], new_page: Callable[[], Page]
) -> Callable[[str], Page]:
    """Open this tree's web UI in a new context and sign in as a demo user, through the real
    Keycloak login page."""
    return sign_in_at(tree.url, services["users"], new_page)
