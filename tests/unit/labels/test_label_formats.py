"""GB 45438 labels in each format the appliance exports: written, read back, and refused
when the content is edited, the label is stripped, or a label is copied onto other content."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator, Callable

import pytest
from pypdf import PdfReader, PdfWriter

from appliance.labels.aigc import EXPLICIT_EN, EXPLICIT_ZH, FIELDS, Stamp
from appliance.labels.files import verify
from appliance.labels.office_formats import Block, write_docx, write_pdf
from appliance.labels.text_formats import label_stream, write_json, write_markdown

STAMP = Stamp("测试站点 test site", "5f0c7c3e-1111-4c4c-9d9d-000000000001")
OTHER = Stamp("测试站点 test site", "5f0c7c3e-1111-4c4c-9d9d-000000000002", english=True)
QUESTION = "差旅住宿标准上限是多少？"
ANSWER = "一线城市每晚不超过 600 元。<b>&</b>\n第二段：其他城市 450 元。"
BLOCKS = [Block("问题", heading=True), Block(QUESTION), Block("回答", True), Block(ANSWER)]


async def _rows(*rows: bytes) -> AsyncIterator[bytes]:
    for row in rows:
        yield row


def _streamed(fmt: str, stamp: Stamp, rows: tuple[bytes, ...]) -> bytes:
    async def collect() -> bytes:
        stream = label_stream(_rows(*rows), "csv" if fmt == "csv" else "jsonl", stamp)
        return b"".join([chunk async for chunk in stream])

    return asyncio.run(collect())


CSV_ROWS = (b"seq,event_type,detail\n", b'1,chat.end,"{""a"": 1}"\n2,audit.read,\n')
JSONL_ROWS = (b'{"seq": 1, "event_type": "chat.end"}\n', b'{"seq": 2, "event_type": "x"}\n')


def _markdown(stamp: Stamp) -> bytes:
    return write_markdown(f"# 住宿\n\n## 你\n\n{QUESTION}\n\n## 助手\n\n{ANSWER}", stamp)


def _json(stamp: Stamp) -> bytes:
    messages = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": ANSWER}]
    return write_json({"title": "住宿", "messages": messages}, stamp)


WRITERS: dict[str, tuple[str, Callable[[Stamp], bytes]]] = {
    "markdown": ("chat.md", _markdown),
    "json": ("chat.json", _json),
    "docx": ("chat.docx", lambda s: write_docx("住宿", BLOCKS, s)),
    "pdf": ("chat.pdf", lambda s: write_pdf("住宿", BLOCKS, s)),
    "csv": ("audit.csv", lambda s: _streamed("csv", s, CSV_ROWS)),
    "jsonl": ("audit.jsonl", lambda s: _streamed("jsonl", s, JSONL_ROWS)),
}


def _rezip(data: bytes, change: Callable[[str, bytes], bytes | None]) -> bytes:
    """The DOCX package with each part passed through ``change`` (None drops the part)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if (part := change(name, src.read(name))) is not None:
                dst.writestr(name, part)
    return out.getvalue()


def _pdf_edited(data: bytes) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    page = writer.pages[0]
    contents = page.get_contents()
    assert contents is not None
    contents.set_data(contents.get_data() + b"\n0 0 m 100 100 l S")
    page.replace_contents(contents)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pdf_stripped(data: bytes) -> bytes:
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(data)).pages:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _jsonl_swap(data: bytes) -> bytes:
    return data.replace(b'"chat.end"', b'"chat.begin"')


TAMPER: dict[str, Callable[[bytes], bytes]] = {
    "markdown": lambda d: d.replace(b"600", b"900"),
    "json": lambda d: d.replace(b"600", b"900"),
    "docx": lambda d: _rezip(
        d, lambda n, p: p.replace(b"600", b"900") if n == "word/document.xml" else p
    ),
    "pdf": _pdf_edited,
    "csv": lambda d: d.replace(b"2,audit.read", b"3,audit.read"),
    "jsonl": _jsonl_swap,
}
STRIP: dict[str, Callable[[bytes], bytes]] = {
    "markdown": lambda d: d.partition(b"\n")[2],
    "json": lambda d: json.dumps(
        {k: v for k, v in json.loads(d).items() if k != "AIGC"}, ensure_ascii=False
    ).encode(),
    "docx": lambda d: _rezip(d, lambda n, p: None if n == "docProps/custom.xml" else p),
    "pdf": _pdf_stripped,
    "csv": lambda d: d.rstrip(b"\n").rpartition(b"\n")[0] + b"\n",
    "jsonl": lambda d: d.rstrip(b"\n").rpartition(b"\n")[0] + b"\n",
}


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_a_written_label_reads_back_with_every_field(fmt: str) -> None:
    name, write = WRITERS[fmt]
    verdict = verify(name, write(STAMP))
    assert verdict.problems == []
    assert verdict.ok and verdict.fmt == fmt
    assert list(verdict.fields) == list(FIELDS)
    assert verdict.fields["Label"] == "1"
    assert (
        verdict.fields["ContentProducer"] == verdict.fields["ContentPropagator"] == STAMP.producer
    )
    assert verdict.fields["ProduceID"] == verdict.fields["PropagateID"] == STAMP.produce_id
    assert verdict.fields["ReservedCode1"] == verdict.fields["ReservedCode2"]
    assert verdict.fields["ReservedCode1"].startswith("sha256:")


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_edited_content_no_longer_matches_its_label(fmt: str) -> None:
    name, write = WRITERS[fmt]
    original = write(STAMP)
    edited = TAMPER[fmt](original)
    assert edited != original
    verdict = verify(name, edited)
    assert not verdict.ok
    assert any("ReservedCode1 does not match" in p for p in verdict.problems)


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_a_stripped_label_is_reported_missing(fmt: str) -> None:
    name, write = WRITERS[fmt]
    verdict = verify(name, STRIP[fmt](write(STAMP)))
    assert not verdict.ok
    assert verdict.problems[0] == "no AIGC metadata: the file is not labelled"


def test_a_label_copied_onto_other_content_is_refused() -> None:
    theirs = write_markdown("另一段内容", STAMP)
    ours = _markdown(STAMP)
    forged = theirs.partition(b"\n")[0] + b"\n" + ours.partition(b"\n")[2]
    verdict = verify("forged.md", forged)
    assert not verdict.ok
    assert "ReservedCode2 does not match the content" in verdict.problems[-1]


def test_english_readers_get_the_english_words_too() -> None:
    text = _markdown(OTHER).decode()
    assert f"> {EXPLICIT_ZH} · {EXPLICIT_EN}" in text
    assert EXPLICIT_EN not in _markdown(STAMP).decode()
    assert verify("chat.md", _markdown(OTHER)).ok


def test_metadata_without_the_explicit_label_is_refused() -> None:
    data = _markdown(STAMP).replace(f"> {EXPLICIT_ZH}".encode(), b"> label")
    verdict = verify("chat.md", data)
    assert f"the explicit label 「{EXPLICIT_ZH}」 is missing" in verdict.problems


def test_malformed_metadata_and_values_are_named() -> None:
    data = _markdown(STAMP)
    head, _, body = data.partition(b"\n")
    assert verify("chat.md", b"<!-- AIGC {not json -->\n" + body).problems[0] == (
        "AIGC metadata is not a JSON object"
    )
    fields = json.loads(head[len("<!-- AIGC ") : -len(" -->")])
    fields["Label"] = "yes"
    del fields["ProduceID"]
    bad = f"<!-- AIGC {json.dumps(fields)} -->\n".encode() + body
    assert verify("chat.md", bad).problems == [
        "field ProduceID is missing or not text",
        "Label is 'yes', not one of 1, 2, 3",
    ]


def test_unreadable_or_unknown_files_are_verdicts_not_errors() -> None:
    assert verify("chat.docx", b"not a zip").problems[0].startswith("not a readable docx file")
    assert verify("chat.pdf", b"%PDF-1.4 broken").problems[0].startswith("not a readable pdf")
    assert verify("notes.txt", b"hello").problems == [
        "notes.txt: not a format the appliance labels"
    ]
    # Renamed without a suffix: recognised by the first bytes.
    assert verify("download", write_pdf("t", BLOCKS, STAMP)).fmt == "pdf"
