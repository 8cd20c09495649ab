"""A knowledge base's policy on personal information, applied to a parsed document.

The detection itself is the content package's (``appliance.content.pii``), which this
layer may not import: the gateway hands :class:`~appliance.rag.service.KnowledgeService` a
:data:`Scrub`, a function from a text to the text masked and the count of each kind found.
Blocks are scrubbed before they are chunked, so a number is never split between two chunks
where neither piece would be recognised; the heading path of each block is scrubbed too.

- ``allow``: the document is indexed as it is;
- ``mask``: every number is replaced by its kind in the chunks, their embeddings and their
  lexical terms (the stored original file is kept, as the document's source);
- ``reject``: a document holding any is refused with 422 ``personal_information``, naming
  the kinds found (never the values), and nothing of it is stored.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Callable

from appliance.errors import InvalidRequest
from appliance.rag.parsers import ParsedDocument

# A text to (the text masked, how many of each kind were found in it).
Scrub = Callable[[str], tuple[str, dict[str, int]]]


class PiiPolicy(enum.StrEnum):
    ALLOW = "allow"
    MASK = "mask"
    REJECT = "reject"


class PersonalInformationFound(InvalidRequest):
    """422: a document with personal information, for a knowledge base that rejects it."""

    status_code = 422
    code = "personal_information"

    def __init__(self, found: dict[str, dict[str, int]]) -> None:
        described = "; ".join(
            f"{name}: " + ", ".join(f"{kind} ({n})" for kind, n in kinds.items())
            for name, kinds in found.items()
        )
        super().__init__(
            "This knowledge base rejects documents holding personal information, and the"
            f" upload has some, so nothing was stored. {described}."
        )
        self.found = found


def scrub_document(parsed: ParsedDocument, scrub: Scrub) -> tuple[ParsedDocument, dict[str, int]]:
    """The document with every block's text and heading path masked, and the kinds found."""
    found: Counter[str] = Counter()

    def masked(text: str) -> str:
        out, kinds = scrub(text)
        found.update(kinds)
        return out

    blocks = [
        dataclasses.replace(
            block, text=masked(block.text), section=tuple(masked(s) for s in block.section)
        )
        for block in parsed.blocks
    ]
    return dataclasses.replace(parsed, blocks=blocks), dict(sorted(found.items()))
