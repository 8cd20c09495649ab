"""Regenerate the screenshots of the security administrator's guides in ops/guides/img/:

    .venv/bin/python -m bench.guide_screenshots          # the running appliance
    .venv/bin/python -m bench.guide_screenshots --tree   # this working tree's web UI

zhao.min signs in through the real Keycloak login page (var/endpoints.json) and each secadmin
screen is drawn in Chinese and in English at 1280x800, saved as a 256-colour palette PNG: a
screen of text keeps legible at that depth and the guides stay small in the repository.

The screens are those of ``tests.support.guide_shots.SECADMIN_SCREENS``; the run stops before
opening the browser unless ``DRAW`` draws exactly those, so the guides' test and the pictures
cannot drift apart. Nothing is changed on the appliance drawn: the import is previewed and
cancelled, a complaint's note is typed and not submitted, and the reads and the compliance
export are audited as any secadmin's would be. ``--tree`` starts this tree's web UI and
gateway on a scratch database instead (``tests.support.tree_webui``), for when the running
appliance serves an older web UI; it seeds the example keyword library and two complaints.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from tests.support.e2e import CHROMIUM, CHROMIUM_ARGS, download, keycloak_sign_in
from tests.support.guide_shots import LANGS, SECADMIN_SCREENS, secadmin_image
from tests.support.paths import ENDPOINTS_FILE, REPO
from tests.support.tokens import Tokens
from tests.support.tree_webui import tree_webui
from webui.auth import NO_ACCESS_PATH
from webui.i18n import Lang, t

SCREEN: ViewportSize = {"width": 1280, "height": 800}
USER = "zhao.min"
# The entry the previewed import adds: shown in the diff, never stored (the preview is cancelled).
EXAMPLE_ID = "GUIDE-EXAMPLE-1"
EXAMPLE_TERM = {"zh": "示例新增关键词", "en": "example new term"}
# The note typed (not submitted) under the complaints queue.
NOTE = {
    "zh": "已核对：回答泄露了同事手机号的存在，已请知识库编辑删除通讯录文档",
    "en": "Checked: the answer disclosed a colleague's number; the editor removed the contact list",
}
# With ``--tree``, the scratch database gets the shipped example library and these complaints
# of a staff user: (question, answer, category, reason, (closed as, note) or still open).
STAFF = "zhang.wei"
COLUMNS = ["id", "term", "category", "match", "action"]
EXAMPLE_LIBRARY = REPO / "appliance" / "content" / "example_keywords.csv"
SEEDED_COMPLAINTS: tuple[tuple[str, str, str, str, tuple[str, str] | None], ...] = (
    (
        "一线城市出差住宿每晚的报销上限是多少？",
        "一线城市出差住宿每晚的报销上限为 500 元。",
        "false_information",
        "制度规定的上限是 650 元",
        ("handled", "已核对《差旅费管理办法》第 12 条，请知识库编辑更正旧版文档"),
    ),
    (
        "请列出财务部同事的联系方式",
        "张伟的手机号是 [手机号]，可以直接联系。",
        "personal_information",
        "回答提到了同事的联系方式",
        None,
    ),
)


def _shot(page: Page, screen: str, lang: str) -> None:
    """The viewport as a palette PNG: Pillow's median cut keeps anti-aliased text legible."""
    path = secadmin_image(screen, lang)
    raw = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    raw.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path} {path.stat().st_size} bytes")


def _tab(page: Page, key: str, lang: str) -> None:
    page.get_by_role("tab", name=t(key, Lang(lang)), exact=True).click()


def _keywords(page: Page, lang: str) -> None:
    expect(page.locator("#kw-revision")).not_to_be_empty()
    expect(page.locator("#kw-page")).not_to_be_empty()
    _shot(page, "keywords", lang)


def _history(page: Page, lang: str) -> None:
    page.get_by_text(t("kw_history", Lang(lang)), exact=True).click()
    versions = page.locator("#kw-versions")
    expect(versions).to_contain_text(USER)
    versions.scroll_into_view_if_needed()
    _shot(page, "keywords-history", lang)
    page.get_by_text(t("kw_history", Lang(lang)), exact=True).click()


def _rows(text: str) -> list[dict[str, str]]:
    return [{k: row[k] for k in COLUMNS} for row in csv.DictReader(io.StringIO(text))]


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _changed(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The library with its first ``flag`` entry raised to ``mask`` (or its last entry's
    action turned the other way), a change the diff shows as ``before → after``."""
    if not rows:
        return rows
    index = next((i for i, row in enumerate(rows) if row["action"] == "flag"), len(rows) - 1)
    action = "mask" if rows[index]["action"] == "flag" else "flag"
    return [*rows[:index], {**rows[index], "action": action}, *rows[index + 1 :]]


def _preview(page: Page, lang: str) -> None:
    """The library exported through the screen, with one entry added and one changed,
    previewed and the preview cancelled: the diff the administrator confirms, unconfirmed."""
    folder = Path(tempfile.mkdtemp(prefix="guide-screenshots-"))
    rows = _rows(download(page, "#kw-export-csv", folder).read_text(encoding="utf-8-sig"))
    category = rows[-1]["category"] if rows else "A.5"
    added = {
        "id": EXAMPLE_ID,
        "term": EXAMPLE_TERM[lang],
        "category": category,
        "match": "normalised",
        "action": "flag",
    }
    edited = folder / f"keywords-{lang}.csv"
    edited.write_bytes(_csv([*_changed(rows), added]))
    page.locator("#kw-import-file input[type=file]").set_input_files(edited)
    page.locator("#kw-preview").click()
    diff = page.locator("#kw-diff")
    expect(diff).to_contain_text(EXAMPLE_TERM[lang])
    page.locator("#kw-confirm").scroll_into_view_if_needed()
    _shot(page, "keywords-preview", lang)
    page.locator("#kw-cancel").click()
    expect(diff).to_be_hidden()


def _complaints(page: Page, lang: str) -> None:
    _tab(page, "tab_complaints", lang)
    page.locator("#cp-state").get_by_text(t("cp_state_all", Lang(lang)), exact=True).click()
    table = page.locator("#cp-table")
    expect(page.locator("#cp-page")).not_to_be_empty()
    # An open complaint's row, clicked, fills in its id, as the administrator would start.
    opened = table.get_by_role("gridcell", name=t("cp_state_open", Lang(lang)), exact=True)
    if opened.count():
        opened.first.click()
        expect(page.locator("#cp-id input")).not_to_have_value("0")
    page.locator("#cp-note textarea").fill(NOTE[lang])
    _shot(page, "complaints", lang)
    page.locator("#cp-note textarea").fill("")


def _compliance(page: Page, lang: str) -> None:
    _tab(page, "tab_compliance", lang)
    page.locator("#compliance-export").click()
    expect(page.locator("#compliance-export-status")).to_contain_text(".zip", timeout=120_000)
    _shot(page, "compliance", lang)


# The screens in the order they are drawn on one signed-in page (the login page comes first).
DRAW: dict[str, Callable[[Page, str], None]] = {
    "keywords": _keywords,
    "keywords-history": _history,
    "keywords-preview": _preview,
    "complaints": _complaints,
    "compliance": _compliance,
}


def _secadmin(browser: Browser, url: str, password: str, lang: str) -> None:
    context = browser.new_context(
        viewport=SCREEN, locale="zh-CN" if lang == "zh" else "en-US", accept_downloads=True
    )
    page = context.new_page()
    page.goto(f"{url}/lang/{lang}")
    expect(page.locator("#kc-form-login")).to_be_visible()
    _shot(page, "login", lang)
    keycloak_sign_in(page, USER, password)
    page.wait_for_url(lambda at: at.endswith((f"/{lang}/", NO_ACCESS_PATH)))
    if page.url.endswith(NO_ACCESS_PATH):
        raise SystemExit(
            f"the web UI at {url} does not let {USER} in: it predates the secadmin tab "
            "(restart it, or draw this tree's screens with --tree)"
        )
    expect(page.locator("#current-user")).to_contain_text(USER)
    _tab(page, "tab_secadmin", lang)
    for draw in DRAW.values():
        draw(page, lang)
    context.close()


def _seed(gateway_url: str, tokens: Tokens) -> None:
    """What a fresh tree's scratch database lacks for the pictures: the example keyword
    library, imported by the secadmin, and a handled and an open complaint of zhang.wei's."""

    def call(
        user: str, method: str, path: str, content_type: str = "", **kwargs: Any
    ) -> dict[str, Any]:
        headers = tokens.headers(user)
        if content_type:
            headers["content-type"] = content_type
        answer = httpx.request(method, gateway_url + path, headers=headers, timeout=60, **kwargs)
        answer.raise_for_status()
        return dict(answer.json())

    example = _rows(EXAMPLE_LIBRARY.read_text(encoding="utf-8-sig"))
    # Two imports, so the version history has a revision before the active one.
    for library in (example, _changed(example)):
        call(USER, "POST", "/api/content/keywords/import", "text/csv", content=_csv(library))
    for question, answer, category, reason, closing in SEEDED_COMPLAINTS:
        made = call(STAFF, "POST", "/api/conversations", json={"title": question[:12]})
        for role, content in (("user", question), ("assistant", answer)):
            call(
                STAFF,
                "POST",
                f"/api/conversations/{made['id']}/messages",
                json={"role": role, "content": content},
            )
        filed = call(
            STAFF,
            "POST",
            "/api/complaints",
            json={
                "conversation_id": made["id"],
                "position": 2,
                "category": category,
                "reason": reason,
            },
        )
        if closing is not None:
            call(
                USER,
                "POST",
                f"/api/complaints/{filed['id']}/transition",
                json={"state": closing[0], "note": closing[1]},
            )


def _draw_all(webui_url: str, password: str) -> None:
    secadmin_image("login", LANGS[0]).parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for lang in LANGS:
            _secadmin(browser, webui_url, password, lang)
        browser.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tree",
        action="store_true",
        help="draw this working tree's screens: its own web UI and gateway on a scratch "
        "database (seeded with the example library and two complaints), signing in through "
        "the running Keycloak, for when the running appliance serves an older web UI",
    )
    args = parser.parse_args(argv)
    drawn = ("login", *DRAW)
    if drawn != SECADMIN_SCREENS:
        raise SystemExit(f"draws {drawn}, the guides expect {SECADMIN_SCREENS}")
    endpoints = json.loads(ENDPOINTS_FILE.read_text())
    password = next(u["password"] for u in endpoints["users"] if u["username"] == USER)
    if not args.tree:
        _draw_all(endpoints["webui_url"], password)
        return
    with (
        tempfile.TemporaryDirectory(prefix="guide-webui-") as folder,
        tree_webui(endpoints, endpoints["model"], Path(folder), "guide_shots") as tree,
    ):
        _seed(tree.gateway_url, Tokens(endpoints))
        _draw_all(tree.url, password)


if __name__ == "__main__":
    main()
