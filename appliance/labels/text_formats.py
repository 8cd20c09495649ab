"""Labels in text files: a conversation as Markdown or JSON, the audit log as CSV or JSONL.

Where each format keeps the implicit label, chosen so the file stays valid for its usual
readers and the label can be parsed back without guessing:

- Markdown: the first line is an HTML comment ``<!-- AIGC {...} -->``. Every Markdown
  renderer hides it (YAML front matter is shown as text or a table by many), and it is one
  line of JSON. The content is every byte after that line; it begins and ends with the
  explicit label as a quoted line.
- JSON: a top-level ``"AIGC"`` field beside the document's own; the explicit label is the
  ``"explicit_label"`` field. The content is the object without ``"AIGC"``, in canonical
  form (sorted keys, no spaces), so re-indenting the file keeps it valid.
- CSV and JSON Lines (the audit export, streamed through a server-side cursor): the
  content's digest is known only at its end, so the implicit label is the *last* line,
  ``# AIGC {...}`` in CSV (a comment line, which ``pandas.read_csv(comment="#")`` and most
  tools skip) and ``{"AIGC": {...}}`` in JSON Lines (still one JSON object per line). The
  first line is the explicit label in the same form. The content is every byte before the
  last line, the explicit label included.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any, Literal

from appliance.labels.aigc import EXPLICIT_ZH, METADATA_KEY, Found, Stamp, digest

LineFormat = Literal["csv", "jsonl"]
# Lines a streamed export adds to the rows: the explicit label first, the AIGC line last.
ADDED_LINES = 2
_MARKDOWN_META = re.compile(rb"<!-- AIGC (.*) -->")
_MALFORMED = "malformed"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _parsed(text: bytes) -> Any:
    """The metadata's JSON value, or a marker that :func:`~.aigc.judge` reports as malformed."""
    try:
        return json.loads(text)
    except ValueError:
        return _MALFORMED


def write_markdown(body: str, stamp: Stamp) -> bytes:
    """``body`` between two explicit labels, after the AIGC comment line."""
    content = f"> {stamp.explicit}\n\n{body.strip()}\n\n> {stamp.explicit}\n".encode()
    # ">" escaped so no value can close the comment early; still the same JSON.
    meta = _compact(stamp.fields(digest(content))).replace(">", "\\u003e")
    return f"<!-- {METADATA_KEY} {meta} -->\n".encode() + content


def read_markdown(data: bytes) -> Found:
    first, _, rest = data.partition(b"\n")
    match = _MARKDOWN_META.fullmatch(first.rstrip(b"\r"))
    metadata = _parsed(match.group(1)) if match else None
    content = rest if match else data
    lines = [line for line in content.decode(errors="replace").splitlines() if line.strip()]
    explicit = bool(lines) and all(
        line.startswith(f"> {EXPLICIT_ZH}") for line in (lines[0], lines[-1])
    )
    return Found("markdown", metadata, digest(content), explicit)


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def write_json(document: dict[str, Any], stamp: Stamp) -> bytes:
    """``document`` with the explicit label first and the AIGC field beside it."""
    body = {"explicit_label": stamp.explicit, **document}
    labelled = {METADATA_KEY: stamp.fields(digest(_canonical(body))), **body}
    return json.dumps(labelled, ensure_ascii=False, indent=2).encode() + b"\n"


def read_json(data: bytes) -> Found:
    document = _parsed(data)
    if not isinstance(document, dict):
        return Found("json", None, digest(data), False)
    metadata = document.pop(METADATA_KEY, None)
    explicit = str(document.get("explicit_label", "")).startswith(EXPLICIT_ZH)
    return Found("json", metadata, digest(_canonical(document)), explicit)


def _explicit_line(fmt: LineFormat, stamp: Stamp) -> bytes:
    if fmt == "csv":
        return f"# {stamp.explicit}\n".encode()
    return (_compact({"explicit_label": stamp.explicit}) + "\n").encode()


def _metadata_line(fmt: LineFormat, fields: dict[str, str]) -> bytes:
    if fmt == "csv":
        return f"# {METADATA_KEY} {_compact(fields)}\n".encode()
    return (_compact({METADATA_KEY: fields}) + "\n").encode()


async def label_stream(
    chunks: AsyncIterator[bytes], fmt: LineFormat, stamp: Stamp
) -> AsyncIterator[bytes]:
    """``chunks`` (whole lines) as they come, after the explicit label and before the AIGC
    line, whose digest covers every byte sent before it: memory stays constant."""
    hashed = hashlib.sha256()
    head = _explicit_line(fmt, stamp)
    hashed.update(head)
    yield head
    async for chunk in chunks:
        hashed.update(chunk)
        yield chunk
    yield _metadata_line(fmt, stamp.fields("sha256:" + hashed.hexdigest()))


def read_lines(data: bytes, fmt: LineFormat) -> Found:
    content, _, last = data.rstrip(b"\n").rpartition(b"\n")
    content += b"\n"
    metadata: Any = None
    if fmt == "csv" and last.startswith(f"# {METADATA_KEY} ".encode()):
        metadata = _parsed(last.split(b" ", 2)[2])
    elif fmt == "jsonl" and isinstance(record := _parsed(last), dict) and len(record) == 1:
        metadata = record.get(METADATA_KEY)
    if metadata is None:
        content = data
    first = content.partition(b"\n")[0].decode(errors="replace")
    if fmt == "csv":
        explicit = first.startswith(f"# {EXPLICIT_ZH}")
    else:
        head = _parsed(first.encode())
        explicit = isinstance(head, dict) and str(head.get("explicit_label", "")).startswith(
            EXPLICIT_ZH
        )
    return Found(fmt, metadata, digest(content), explicit)
