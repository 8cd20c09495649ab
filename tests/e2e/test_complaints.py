"""A staff user reports an answer from the chat and the secadmin finds it in the queue, in a
real browser through the real Keycloak login page.

The web UI and the gateway run from this working tree, each as its own process: the gateway
on a scratch database (migrated to head) with a stub model, the web UI on a free port with a
Keycloak client of its own made for the test (the realm's web UI client, redirecting to that
port) and removed after. So the test exercises the code under test whichever version the
running appliance serves.
"""

from __future__ import annotations

import json
import secrets
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from appliance.runtime.gateway_service import local_allowed_clients
from tests.support.e2e import AI_LABEL, ANSWER_TIMEOUT_MS, ask, keycloak_sign_in
from tests.support.gateways import Gateway
from tests.support.keycloak_admin import master_admin
from tests.support.paths import REPO
from tests.support.postgres import scratch
from tests.support.process import Process, answers, free_port, wait_until
from tests.support.stubs import Stub

REALM_FILE = REPO / "appliance" / "runtime" / "realm" / "appliance-realm.json"
STAFF, SECADMIN = "zhang.wei", "zhao.min"
CLIENT_ID = f"t{secrets.token_hex(3)}-webui"


def _client(url: str, secret: str) -> dict[str, Any]:
    """The realm's web UI client, under a name of its own, redirecting to ``url``."""
    realm = json.loads(REALM_FILE.read_text(encoding="utf-8"))
    client = next(c for c in realm["clients"] if c["clientId"] == "appliance-webui")
    return {
        **client,
        "clientId": CLIENT_ID,
        "secret": secret,
        "rootUrl": url,
        "redirectUris": [f"{url}/*"],
        "attributes": {**client["attributes"], "post.logout.redirect.uris": f"{url}/*"},
    }


@pytest.fixture(scope="module")
def webui(services: dict[str, Any], served_model: str, tmp_path_factory: Any) -> Iterator[str]:
    """The URL of a web UI of this working tree, over a gateway of this working tree."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secret = secrets.token_urlsafe(32)
    keys: Path = tmp_path_factory.mktemp("webui")
    (keys / "client_secret").write_text(secret, encoding="utf-8")
    master = master_admin(services)
    master.create_client(_client(url, secret))
    started: list[Process] = []
    try:
        with scratch.temporary(services, "e2e_complaints") as db:
            stub = Stub(served_model)
            started.append(stub)
            allowed = [*json.loads(local_allowed_clients()), CLIENT_ID]
            gateway = Gateway(
                {
                    "APPLIANCE_DATABASE_URL": db.gateway_url,
                    "APPLIANCE_KEYCLOAK__ISSUER": services["keycloak"]["issuer"],
                    "APPLIANCE_KEYCLOAK__ALLOWED_CLIENTS": json.dumps(allowed),
                    "APPLIANCE_BACKENDS": stub.url,
                }
            )
            started.append(gateway)
            ui = Process(
                f"webui-{port}",
                [sys.executable, "-m", "webui"],
                {
                    "APPLIANCE_WEBUI_PORT": str(port),
                    "APPLIANCE_WEBUI_PUBLIC_URL": url,
                    "APPLIANCE_WEBUI_GATEWAY_URL": gateway.url,
                    "APPLIANCE_WEBUI_ISSUER": services["keycloak"]["issuer"],
                    "APPLIANCE_WEBUI_CLIENT_ID": CLIENT_ID,
                    "APPLIANCE_WEBUI_CLIENT_SECRET_FILE": str(keys / "client_secret"),
                    "APPLIANCE_WEBUI_SESSION_KEY_FILE": str(keys / "session_key"),
                    "APPLIANCE_WEBUI_MAX_TOKENS": "64",
                    "GRADIO_ANALYTICS_ENABLED": "False",
                    "HF_HUB_OFFLINE": "1",
                },
            )
            started.append(ui)
            wait_until(lambda: not ui.alive() or answers(f"{url}/healthz"), "web UI", 120)
            assert ui.alive(), f"the web UI exited, see {ui.log_path}"
            yield url
    finally:
        for process in reversed(started):
            process.stop()
        if (internal := master.get_client_id(CLIENT_ID)) is not None:
            master.delete_client(internal)


@pytest.fixture
def sign_in(
    webui: str, services: dict[str, Any], new_page: Callable[[], Page]
) -> Callable[[str], Page]:
    passwords = {user["username"]: user["password"] for user in services["users"]}

    def sign_in_as(username: str) -> Page:
        page = new_page()
        page.goto(webui)
        keycloak_sign_in(page, username, passwords[username])
        page.wait_for_url(f"{webui}/**")
        return page

    return sign_in_as


def _flag_last_answer(page: Page) -> None:
    """Choose 举报/反馈 by the last answer until the form opens (the answer is stored just
    after its last token is shown)."""
    for _ in range(10):
        page.locator("#chatbot button[aria-label='Feedback']").last.click()
        option = page.locator("#chatbot button.extra-feedback-option", has_text="举报/反馈")
        expect(option.last).to_be_visible()
        option.last.click()
        try:
            expect(page.locator("#flag-submit")).to_be_visible(timeout=5_000)
            return
        except AssertionError:
            continue
    raise AssertionError("the report form never opened")


def test_staff_reports_an_answer_and_the_secadmin_closes_it(
    sign_in: Callable[[str], Page],
) -> None:
    staff = sign_in(STAFF)
    marker = f"e2e-{uuid.uuid4().hex[:8]}"
    ask(staff, f"差旅住宿标准是多少？({marker})")
    expect(staff.locator("#chatbot")).to_contain_text(AI_LABEL, timeout=ANSWER_TIMEOUT_MS)
    expect(staff.locator("#conversations")).to_contain_text(marker)

    _flag_last_answer(staff)
    expect(staff.locator("#flag-target")).to_contain_text("第 2 条消息")
    staff.locator("#flag-category").get_by_label("不实信息").check()
    staff.locator("#flag-reason textarea").fill(f"住宿标准有误 {marker}")
    staff.locator("#flag-submit").click()
    expect(staff.get_by_text("已提交举报")).to_be_visible()
    expect(staff.locator("#flag-submit")).to_be_hidden()
    staff.locator("#flag-mine-box").get_by_text("我的举报").click()
    staff.locator("#flag-mine-refresh").click()
    expect(staff.locator("#flag-mine")).to_contain_text("待处理")

    secadmin = sign_in(SECADMIN)
    secadmin.get_by_role("tab", name="安全管理").click()
    secadmin.get_by_role("tab", name="投诉处理").click()
    table = secadmin.locator("#cp-table")
    expect(table).to_contain_text(marker)
    expect(table).to_contain_text("不实信息")
    table.get_by_role("gridcell", name=f"住宿标准有误 {marker}").click()
    expect(secadmin.locator("#cp-id input")).not_to_have_value("")
    secadmin.locator("#cp-note textarea").fill("已核实并更正")
    secadmin.locator("#cp-submit").click()
    expect(secadmin.locator("#cp-status")).to_contain_text("已处理")
    expect(table).not_to_contain_text(marker)

    staff.locator("#flag-mine-refresh").click()
    expect(staff.locator("#flag-mine")).to_contain_text("已处理")
    expect(staff.locator("#flag-mine")).to_contain_text("已核实并更正")
