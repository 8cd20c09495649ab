"""``appliance label verify FILE``, run as the installed ``appliance`` command on a labelled
file of each format, an edited one and an unlabelled one."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from appliance.labels.aigc import Stamp
from appliance.labels.office_formats import Block, write_docx, write_pdf
from appliance.labels.text_formats import label_stream, write_json, write_markdown

APPLIANCE = Path(sys.executable).parent / "appliance"
STAMP = Stamp("cli site", "produce-0001")
BLOCKS = [Block("问题", heading=True), Block("报销需要哪些票据？"), Block("发票 and 行程单。")]


async def _one(row: bytes) -> AsyncIterator[bytes]:
    yield row


def _lines(fmt: str, row: bytes) -> bytes:
    async def collect() -> bytes:
        return b"".join(
            [c async for c in label_stream(_one(row), "csv" if fmt == "csv" else "jsonl", STAMP)]
        )

    return asyncio.run(collect())


FILES = {
    "chat.md": write_markdown("## 你\n\n报销需要哪些票据？\n\n## 助手\n\n发票和行程单。", STAMP),
    "chat.json": write_json({"title": "报销", "messages": [{"content": "发票和行程单。"}]}, STAMP),
    "chat.docx": write_docx("报销", BLOCKS, STAMP),
    "chat.pdf": write_pdf("报销", BLOCKS, STAMP),
    "audit.csv": _lines("csv", b"seq,event_type\n1,chat.end\n"),
    "audit.jsonl": _lines("jsonl", b'{"seq": 1, "event_type": "chat.end"}\n'),
}


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(APPLIANCE), "label", "verify", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", list(FILES))
def test_verify_prints_the_fields_and_exits_0_for_a_labelled_file(
    name: str, tmp_path: Path
) -> None:
    path = tmp_path / name
    path.write_bytes(FILES[name])
    result = _verify(str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  Label: 1\n" in result.stdout
    assert "  ContentProducer: cli site\n" in result.stdout
    assert "  ProduceID: produce-0001\n" in result.stdout
    assert "  ReservedCode1: sha256:" in result.stdout
    assert result.stdout.rstrip().endswith("label ok")


def test_verify_exits_1_for_edited_content(tmp_path: Path) -> None:
    path = tmp_path / "chat.md"
    path.write_bytes(FILES["chat.md"].replace("行程单".encode(), "住宿单".encode()))
    result = _verify(str(path), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["format"] == "markdown"
    assert report["fields"]["ProduceID"] == "produce-0001"
    assert report["problems"] == [
        "ReservedCode1 does not match the content: edited, or another file's label",
        "ReservedCode2 does not match the content: edited, or another file's label",
    ]


def test_verify_exits_1_for_an_unlabelled_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"seq": 1}\n')
    result = _verify(str(path))
    assert result.returncode == 1
    assert "problem: no AIGC metadata: the file is not labelled" in result.stdout
    assert result.stdout.rstrip().endswith("label NOT valid")


def test_verify_needs_an_existing_file(tmp_path: Path) -> None:
    assert _verify(str(tmp_path / "absent.pdf")).returncode == 2
