"""A knowledge base's personal-information policy on a parsed document: blocks and their
heading paths masked before chunking, the kinds counted, the refusal naming them."""

from __future__ import annotations

from appliance.content.pii import scrub
from appliance.rag.config import RagSettings
from appliance.rag.ingest import prepare
from appliance.rag.parsers import ParsedDocument
from appliance.rag.parsers.base import Block
from appliance.rag.personal import PersonalInformationFound, scrub_document

ID, MOBILE = "11010519491231002X", "13812345678"


def test_blocks_and_headings_are_masked_and_counted() -> None:
    parsed = ParsedDocument(
        "text/markdown",
        [Block(f"身份证{ID}，电话{MOBILE}", section=(f"客户{MOBILE}",)), Block("无个人信息")],
    )
    masked, found = scrub_document(parsed, scrub)
    assert [b.text for b in masked.blocks] == ["身份证[身份证号]，电话[手机号]", "无个人信息"]
    assert masked.blocks[0].section == ("客户[手机号]",)
    assert found == {"mobile": 2, "resident_id": 1}


def test_prepare_masks_before_chunking_and_without_a_scrub_keeps_the_text() -> None:
    data = f"# 档案\n\n身份证号{ID}。".encode()
    masked = prepare("a.md", data, RagSettings(), scrub)
    assert masked.personal == {"resident_id": 1}
    assert all(ID not in t for t in masked.embed_texts + masked.lexical_terms)
    kept = prepare("a.md", data, RagSettings())
    assert kept.personal == {} and any(ID in c.text for c in kept.chunks)


def test_the_refusal_names_files_and_kinds_never_values() -> None:
    error = PersonalInformationFound({"a.md": {"mobile": 2, "resident_id": 1}})
    assert (error.status_code, error.code) == (422, "personal_information")
    assert "a.md: mobile (2), resident_id (1)" in error.message
