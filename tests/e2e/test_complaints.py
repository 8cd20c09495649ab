"""A staff user reports an answer from the chat and the secadmin finds it in the queue, in a
real browser through the real Keycloak login page.

The web UI and the gateway run from this working tree (the e2e conftest's ``tree``: a
scratch database, a stub model, a Keycloak client of their own, shared with the other
browser tests of this tree), so the test exercises the code under test whichever version
the running appliance serves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.support.e2e import AI_LABEL, ANSWER_TIMEOUT_MS, ask

STAFF, SECADMIN = "zhang.wei", "zhao.min"


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
    tree_sign_in: Callable[[str], Page],
) -> None:
    staff = tree_sign_in(STAFF)
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

    secadmin = tree_sign_in(SECADMIN)
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
