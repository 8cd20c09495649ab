"""The security administrator's tab in the browser: zhao.min searches the keyword library,
imports a workbook, sees the before-and-after diff, confirms it and sees the new revision;
a confirmation after someone else's import is refused in words; staff and the sysadmin
never see the tab.

The web UI and the gateway run from this working tree (the e2e conftest's ``tree``: a
scratch database, a Keycloak client of their own, shared with the other browser tests of
this tree), so the screen under test is this tree's whichever version the running appliance
serves. The import adds one entry to the library exported first through the same screen,
and another session imports the exported file again, so the test does not depend on what
the library holds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from appliance.content.keywords import Action, KeywordEntry, KeywordLibrary
from appliance.content.library_xlsx import export_xlsx, import_xlsx
from tests.support.e2e import download
from tests.support.tokens import Tokens
from tests.support.tree_webui import TreeWebUI

SECADMIN_TAB = "安全管理"
REVISION = re.compile(r"修订号 (\d+)")


def revision(page: Page) -> int:
    shown = page.locator("#kw-revision")
    expect(shown).to_contain_text(REVISION)
    found = REVISION.search(shown.inner_text())
    assert found is not None
    return int(found.group(1))


def search(page: Page, text: str) -> None:
    page.locator("#kw-search").get_by_role("textbox").fill(text)
    page.locator("#kw-search-go").click()


def manage_keywords(page: Page, folder: Path, elsewhere: Callable[[Path], None]) -> None:
    """The secadmin's walk through the keyword library screen, on a signed-in page;
    ``elsewhere`` imports a CSV file through the gateway's API, as another session would."""
    expect(page.get_by_role("tab", name=SECADMIN_TAB)).to_be_visible()
    page.get_by_role("tab", name=SECADMIN_TAB).click()
    expect(page.get_by_role("tab", name="关键词库")).to_be_visible()
    before = revision(page)
    marker = f"e2e{uuid.uuid4().hex[:8]}"
    search(page, marker)
    expect(page.locator("#kw-page")).to_contain_text("共 0 条")

    original = download(page, "#kw-export-csv", folder)
    exported = download(page, "#kw-export-xlsx", folder)
    assert exported.suffix == ".xlsx" and original.suffix == ".csv"
    library = import_xlsx(exported.read_bytes())
    added = KeywordEntry(
        f"E2E-{marker}", f"词{marker}", "A.5 特定服务类型的安全需求", action=Action.FLAG
    )
    edited = folder / f"keywords-{marker}.xlsx"
    edited.write_bytes(export_xlsx(KeywordLibrary([*library.entries, added])))

    page.locator("#kw-import-file input[type=file]").set_input_files(edited)
    page.locator("#kw-preview").click()
    status = page.locator("#kw-status")
    expect(status).to_contain_text(f"与修订号 {before} 相比：新增 1 条，删除 0 条，修改 0 条")
    diff = page.locator("#kw-diff")
    expect(diff).to_contain_text(added.term)
    expect(diff).to_contain_text("新增")
    assert revision(page) == before  # a preview stores nothing
    page.locator("#kw-confirm").click()
    expect(status).to_contain_text(f"已导入，新修订号 {before + 1}：新增 1 条")
    expect(page.locator("#kw-revision")).to_contain_text(f"修订号 {before + 1}")
    page.get_by_text("版本历史").click()
    expect(page.locator("#kw-versions")).to_contain_text("zhao.min")

    search(page, marker)
    expect(page.locator("#kw-page")).to_contain_text("共 1 条")
    expect(page.locator("#kw-table")).to_contain_text(added.term)

    # Someone imports the original file while the screen shows the same import's preview:
    # the confirmation is refused, in words, and the screen shows the other revision.
    page.locator("#kw-import-file input[type=file]").set_input_files(original)
    page.locator("#kw-preview").click()
    expect(status).to_contain_text("新增 0 条，删除 1 条，修改 0 条")
    elsewhere(original)
    page.locator("#kw-confirm").click()
    expect(status).to_contain_text("关键词库已被他人修改，本次未导入")
    expect(page.locator("#kw-revision")).to_contain_text(f"修订号 {before + 2}")
    search(page, marker)
    expect(page.locator("#kw-page")).to_contain_text("共 0 条")


def test_the_secadmin_imports_a_workbook_after_seeing_its_diff(
    tree_sign_in: Callable[[str], Page], tmp_path: Path, tree: TreeWebUI, tokens: Tokens
) -> None:
    def elsewhere(path: Path) -> None:
        imported = httpx.post(
            f"{tree.gateway_url}/api/content/keywords/import",
            content=path.read_bytes(),
            headers={**tokens.headers("zhao.min"), "content-type": "text/csv"},
            timeout=60,
        )
        assert imported.status_code == 200, imported.text

    page = tree_sign_in("zhao.min")
    expect(page.locator("#current-user")).to_contain_text("zhao.min")
    for other in ("对话", "审计", "管理"):
        expect(page.get_by_role("tab", name=other, exact=True)).to_have_count(0)
    manage_keywords(page, tmp_path, elsewhere)


def test_staff_and_the_sysadmin_do_not_see_the_secadmin_tab(
    tree_sign_in: Callable[[str], Page],
) -> None:
    staff = tree_sign_in("zhang.wei")
    expect(staff.get_by_role("tab", name="对话")).to_be_visible()
    expect(staff.get_by_role("tab", name=SECADMIN_TAB)).to_have_count(0)
    sysadmin = tree_sign_in("chen.jie")
    expect(sysadmin.get_by_role("tab", name="管理", exact=True)).to_be_visible()
    expect(sysadmin.get_by_role("tab", name=SECADMIN_TAB)).to_have_count(0)
    expect(sysadmin.locator("#kw-table")).to_be_hidden()
