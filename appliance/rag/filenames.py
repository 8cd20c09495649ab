"""The name an uploaded file is kept under: a label, never a path.

Documents live in the database, so a name never reaches the filesystem; it is still shown
in listings, citations and the audit log, and PostgreSQL's ``text`` cannot hold NUL. So the
client's name is NFKC-normalised (fullwidth ``．．／`` is ``../``, so no later normalisation
can turn a label into a path), reduced to its last path component (``../../etc/passwd`` is
``passwd``, ``C:\\x\\y.pdf`` is ``y.pdf``), control and bidirectional-formatting characters
are dropped (a right-to-left override can make ``exe.txt`` read as ``txt.exe``), and the
result is bounded in length with its extension kept, since the extension is what the file
claims to be and is checked against its content.
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePath

MAX_NAME_CHARS = 255
UNNAMED = "unnamed"


def _visible(char: str) -> bool:
    return unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Zl", "Zp")


def safe_filename(raw: str) -> str:
    """The display-safe name for an uploaded file called ``raw`` by the client."""
    cleaned = "".join(char for char in unicodedata.normalize("NFKC", raw) if _visible(char))
    base = cleaned.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if base in ("", ".", ".."):
        return UNNAMED
    if len(base) <= MAX_NAME_CHARS:
        return base
    suffix = PurePath(base).suffix
    suffix = suffix if len(suffix) <= 16 else ""
    return base[: MAX_NAME_CHARS - len(suffix)] + suffix
