"""Which reader a labelled file needs, and its verdict: what ``appliance label verify`` runs.

The format comes from the file's suffix, as the exports name their files; a file renamed
without one is recognised by its first bytes (PDF, a ZIP package, the Markdown label line).
A file no reader can parse is a verdict too (not labelled), never an exception.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import PurePath
from xml.etree import ElementTree

from pypdf.errors import PyPdfError

from appliance.labels.aigc import Found, Verdict, judge
from appliance.labels.office_formats import read_docx, read_pdf
from appliance.labels.text_formats import read_json, read_lines, read_markdown

READERS: dict[str, Callable[[bytes], Found]] = {
    "markdown": read_markdown,
    "json": read_json,
    "csv": lambda data: read_lines(data, "csv"),
    "jsonl": lambda data: read_lines(data, "jsonl"),
    "docx": read_docx,
    "pdf": read_pdf,
}
_SUFFIXES = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".docx": "docx",
    ".pdf": "pdf",
}
_MAGIC = ((b"%PDF", "pdf"), (b"PK\x03\x04", "docx"), (b"<!-- AIGC", "markdown"))


def detect(name: str, data: bytes) -> str | None:
    """The format of the file ``name`` holding ``data``; None when nothing fits."""
    if (fmt := _SUFFIXES.get(PurePath(name).suffix.lower())) is not None:
        return fmt
    return next((fmt for magic, fmt in _MAGIC if data.startswith(magic)), None)


def verify(name: str, data: bytes) -> Verdict:
    """The label of the file ``name`` holding ``data``, read back and judged."""
    fmt = detect(name, data)
    if fmt is None:
        return Verdict("unknown", {}, [f"{name}: not a format the appliance labels"])
    try:
        found = READERS[fmt](data)
    except (ValueError, KeyError, zipfile.BadZipFile, ElementTree.ParseError, PyPdfError) as e:
        return Verdict(fmt, {}, [f"not a readable {fmt} file: {e}"])
    return judge(found)
