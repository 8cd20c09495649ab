"""Finding leaked keys in files: what ``appliance keys find-leaked`` reports.

A stream is read in chunks (1 MiB by default) and searched for the key format of
:mod:`.keys`; the last ``len(key) - 1`` bytes of each chunk are searched again with the
next one, so a key split across a chunk boundary is found once. A finding holds the line
it starts on and the key's public prefix, never the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from appliance.apikeys.keys import KEY_LENGTH, KEY_PATTERN, PREFIX_LENGTH

CHUNK_BYTES = 1 << 20
_KEY_BYTES = re.compile(KEY_PATTERN.pattern.encode("ascii"))
# A match that starts in the last KEY_LENGTH - 1 bytes of a chunk cannot be complete there,
# so those bytes are kept for the next chunk.
_OVERLAP = KEY_LENGTH - 1


@dataclass(frozen=True, slots=True)
class Finding:
    line: int
    prefix: str


def scan_stream(stream: BinaryIO, *, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Finding]:
    """Each key in ``stream``, in order, with the (1-based) line it starts on."""
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be positive")
    carry = b""
    lines_before = 0  # newlines in the bytes before ``carry``
    while True:
        chunk = stream.read(chunk_bytes)
        if not chunk:
            return
        buffer = carry + chunk
        counted_to, line = 0, lines_before + 1
        for match in _KEY_BYTES.finditer(buffer):
            line += buffer.count(b"\n", counted_to, match.start())
            counted_to = match.start()
            yield Finding(line, match.group().decode("ascii")[:PREFIX_LENGTH])
        keep = min(_OVERLAP, len(buffer))
        lines_before += buffer.count(b"\n", 0, len(buffer) - keep)
        carry = buffer[len(buffer) - keep :]


def files_under(path: Path, on_error: Callable[[OSError], None]) -> Iterator[Path]:
    """``path`` itself, or every file below a directory, in name order; a directory that
    cannot be listed goes to ``on_error`` and the walk goes on. Symbolic links to
    directories are not followed, so a loop cannot make the walk endless."""
    if not path.is_dir():
        yield path
        return
    for root, dirs, names in os.walk(path, onerror=on_error):
        dirs.sort()
        for name in sorted(names):
            yield Path(root) / name
