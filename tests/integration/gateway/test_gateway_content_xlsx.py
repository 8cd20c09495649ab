"""The keyword library as an Excel workbook through the real gateway: exported and imported
with the CSV's columns and checks, previewed then applied against its base revision, and a
damaged, oversized or bomb-like workbook refused with a 4xx that names why, nothing stored;
nor while the audit store refuses the import's record (503).

One gateway (this tree's code) on its own scratch database of the runtime's cluster, with
the real Keycloak; its import limit is lowered so an oversized file is cheap to send.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import httpx
import pytest
from openpyxl import Workbook

from appliance.content.keywords import KeywordEntry, KeywordLibrary
from appliance.content.library_csv import HEADER, import_csv
from appliance.content.library_xlsx import MEDIA_TYPE, export_xlsx, import_xlsx
from tests.support.gateways import Gateway
from tests.support.postgres import scratch as scratch_db
from tests.support.postgres.databases import ScratchDb
from tests.support.scratch_gateway import scratch_gateway_fixtures
from tests.support.tokens import Tokens

SECADMIN, SYSADMIN = "zhao.min", "chen.jie"
MAX_IMPORT_BYTES = 256 * 1024
LIBRARY = KeywordLibrary(
    [
        KeywordEntry("X-1", "表格词一", "A.1 违反社会主义核心价值观"),
        KeywordEntry("0002", "=SUM(1)", "A.3 商业违法违规"),
        KeywordEntry("X-3", "表格词三", "A.5 特定服务类型的安全需求"),
    ]
)
EDITED = KeywordLibrary([*LIBRARY.entries[:2], KeywordEntry("X-4", "表格词四", "A.2 歧视性内容")])


scratch, gateway = scratch_gateway_fixtures(
    "gw_content_xlsx", {"APPLIANCE_CONTENT__MAX_IMPORT_BYTES": str(MAX_IMPORT_BYTES)}
)


@pytest.fixture
def client(gateway: Gateway, tokens: Tokens) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, headers=tokens.headers(SECADMIN), timeout=120) as c:
        yield c


def _import(client: httpx.Client, data: bytes, **params: str | int) -> httpx.Response:
    return client.post(
        "/api/content/keywords/import",
        content=data,
        params=params,
        headers={"content-type": MEDIA_TYPE},
    )


def _revision(client: httpx.Client) -> int:
    listing = client.get("/api/content/keywords")
    assert listing.status_code == 200, listing.text
    return int(listing.json()["revision"])


def test_1_a_workbook_is_previewed_applied_and_exported_back(client: httpx.Client) -> None:
    base = _revision(client)
    preview = _import(client, export_xlsx(LIBRARY), dry_run="true")
    assert preview.status_code == 200, preview.text
    assert preview.json()["counts"] == {"added": 3, "removed": 0, "changed": 0}
    assert _revision(client) == base  # a dry run stores nothing

    applied = _import(client, export_xlsx(LIBRARY), base_revision=base)
    assert applied.status_code == 200, applied.text
    revision = applied.json()["revision"]
    assert revision > base

    exported = client.get("/api/content/keywords/export", params={"format": "xlsx"})
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == MEDIA_TYPE
    assert f'filename="keywords-r{revision}.xlsx"' in exported.headers["content-disposition"]
    assert import_xlsx(exported.content).entries == LIBRARY.entries
    as_csv = client.get("/api/content/keywords/export")
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert import_csv(as_csv.content).entries == LIBRARY.entries

    diff = _import(client, export_xlsx(EDITED), dry_run="true").json()
    assert diff["counts"] == {"added": 1, "removed": 1, "changed": 0}
    assert (diff["added"][0]["id"], diff["removed"][0]["id"]) == ("X-4", "X-3")
    stale = _import(client, export_xlsx(EDITED), base_revision=base)
    assert stale.status_code == 409, stale.text
    assert stale.json()["error"]["code"] == "library_changed"
    assert _revision(client) == revision


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("xl/worksheets/sheet1.xml", b"\0" * (65 * 1024 * 1024))
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "status", "code", "message"),
    [
        (b"PK\x03\x04 cut short", 400, "invalid_keyword_library", "not an Excel workbook"),
        (export_xlsx(LIBRARY)[:-200], 400, "invalid_keyword_library", "not an Excel workbook"),
        (b"\0" * (MAX_IMPORT_BYTES + 1), 413, "payload_too_large", "exceeds the limit"),
        (_bomb(), 413, "workbook_too_large", "unpacks to"),
    ],
    ids=["not-a-zip", "truncated", "oversized", "bomb"],
)
def test_2_a_bad_workbook_is_refused_and_nothing_is_stored(
    client: httpx.Client, data: bytes, status: int, code: str, message: str
) -> None:
    before = _revision(client)
    for params in ({"dry_run": "true"}, {"base_revision": before}):
        refused = _import(client, data, **params)
        assert refused.status_code == status, refused.text
        error = refused.json()["error"]
        assert error["code"] == code and message in error["message"]
    assert _revision(client) == before


def test_3_a_workbook_is_not_stored_while_the_audit_store_refuses(
    client: httpx.Client, scratch: ScratchDb
) -> None:
    before = _revision(client)
    with scratch_db.audit_refused(scratch):
        refused = _import(client, export_xlsx(EDITED), base_revision=before)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "audit_unavailable"
    assert _revision(client) == before


def test_4_a_wrong_row_is_named_and_other_roles_are_refused(
    client: httpx.Client, gateway: Gateway, tokens: Tokens
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(HEADER))
    sheet.append([1, "b", "c", None, "stop!"])
    out = io.BytesIO()
    book.save(out)
    wrong = out.getvalue()
    refused = _import(client, wrong, dry_run="true")
    assert refused.status_code == 400, refused.text
    assert "row 2, column action" in refused.json()["error"]["message"]

    with httpx.Client(base_url=gateway.url, headers=tokens.headers(SYSADMIN), timeout=60) as other:
        export = other.get("/api/content/keywords/export", params={"format": "xlsx"})
        assert export.status_code == 403, export.text
    bad_format = client.get("/api/content/keywords/export", params={"format": "ods"})
    assert bad_format.status_code == 422, bad_format.text
