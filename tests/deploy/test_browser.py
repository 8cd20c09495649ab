"""The deployed site in a real browser, through nginx by the site's name: Debian's chromium
opens https://<appliance_public_hostname>/, signs in on Keycloak's page, chats and sees the
labelled answer; an auditor finds the chat on the audit screen.

The browser runs on the host, as a user's workstation would: the site's name resolves to
the control node's address on the test bridge (``--host-resolver-rules``), and the site's
certificate is trusted because it chains to the inventory's internal CA (checked here with
that CA, then pinned for chromium by its public key; chromium takes no CA file). Every page,
the web UI's and Keycloak's, goes through nginx's ``location /`` and ``/auth/``: a proxy
that dropped ``Host`` or ``X-Forwarded-*`` sends the browser to the web UI's own address
after sign-in, and this test fails.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.deploy import deployed, nodes
from tests.support.deploy.deployed import HOSTNAME, Site
from tests.support.e2e import (
    AI_LABEL,
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    WHOLE_ANSWER_TIMEOUT_MS,
    ask,
    keycloak_sign_in,
)

pytestmark = pytest.mark.timeout(1800)
# Pages come through nginx from the nodes on the shared cores: more than the default 5 s.
expect.set_options(timeout=30_000)

SITE_URL = f"https://{HOSTNAME}"
AUDITOR, AUDITOR_PASSWORD = "zhao.min", secrets.token_hex(12)


def _served_key_pin(inventory: Path, address: str) -> str:
    """base64(sha256(SPKI)) of the certificate nginx serves for the site's name, after
    Python has verified it against the inventory's CA and for that name."""
    context = deployed.ca(inventory)
    with (
        socket.create_connection((address, 443), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname=HOSTNAME) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    spki = (
        x509.load_der_x509_certificate(der)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def browser(site: Site, cluster: nodes.Cluster) -> Iterator[Browser]:
    inventory, _, _ = site
    address = cluster.control.address
    args = [
        *CHROMIUM_ARGS,
        f"--host-resolver-rules=MAP {HOSTNAME} {address}",
        f"--ignore-certificate-errors-spki-list={_served_key_pin(inventory, address)}",
    ]
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def auditor(site: Site, cluster: nodes.Cluster, ssh_key: Path) -> str:
    _, vault, _ = site
    admin = vault["vault_keycloak_admin_password"]
    deployed.add_user(
        cluster.control, ssh_key, admin, AUDITOR, AUDITOR_PASSWORD, ("auditor",), None
    )
    return AUDITOR


@pytest.fixture
def sign_in(browser: Browser) -> Iterator[Callable[[str, str], Page]]:
    """A fresh browser context per user, opened at the site's name and signed in."""
    contexts = []

    def sign_in_as(username: str, password: str) -> Page:
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{SITE_URL}/")
        expect(page).to_have_url(re.compile(rf"^{re.escape(SITE_URL)}/auth/"))
        keycloak_sign_in(page, username, password)
        # Back on the web UI, by the site's name (Keycloak is under the same name, at /auth/).
        page.wait_for_url(re.compile(rf"^{re.escape(SITE_URL)}/(?!auth/)"))
        expect(page.locator("#current-user")).to_contain_text(username)
        return page

    yield sign_in_as
    for context in contexts:
        context.close()


def test_staff_chat_in_the_browser_is_found_by_the_auditor(
    sign_in: Callable[[str, str], Page], auditor: str
) -> None:
    staff = sign_in(deployed.USER, deployed.PASSWORD)
    marker = f"browser-{secrets.token_hex(4)}"
    ask(staff, f"What is the capital of France? ({marker})")
    chat = staff.locator("#chatbot")
    expect(chat).to_contain_text(marker)
    # The deployed replica is vLLM's CPU build on nodes sharing the host's cores.
    expect(chat).to_contain_text(AI_LABEL, timeout=WHOLE_ANSWER_TIMEOUT_MS)

    page = sign_in(auditor, AUDITOR_PASSWORD)
    expect(page.get_by_role("tab", name="审计")).to_be_visible()
    page.locator("#audit-user input").fill(deployed.USER)
    page.locator("#audit-keyword input").fill(marker)
    page.locator("#audit-search").click()
    expect(page.locator("#audit-events")).to_contain_text(marker)
