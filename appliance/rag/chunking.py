"""Split parsed blocks into retrieval chunks that respect Chinese text and document structure.

Chunks end at headings (a new section never shares a chunk with the previous one) and at
page breaks (so a citation's page number is exact), prefer
paragraph breaks, and otherwise break after a sentence end (。！？；… or an English ``.!?;``
followed by a space). A table row is never cut: a row is the smallest unit. Consecutive
chunks of one section overlap by a sentence or two so that a fact split across the boundary
is still found whole in one of them.

Sizes are in approximate tokens, counted without a tokenizer so chunking stays fast: one
CJK character counts as one token, one Latin word or number as 1.3 tokens (the usual ratio
for subword tokenizers on English), other symbols as nothing. That is close to what the
XLM-R tokenizer of multilingual-e5 produces for Chinese and within ~20% for English, which
is all a target size needs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from appliance.rag.parsers import Block, BlockKind

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z0-9\u00c0-\u024f]+(?:['.,][A-Za-z0-9]+)*")
# A sentence ends after CJK terminal punctuation (with any closing quotes or brackets), or
# after English terminal punctuation followed by whitespace.
_SENTENCE_END = re.compile(r"(?<=[。！？；…])[”’」』）)\]]*|(?<=[.!?;])[\"')\]]*(?=\s)")


def count_tokens(text: str) -> int:
    """Approximate token count: CJK character = 1, Latin word or number = 1.3."""
    return math.ceil(len(_CJK.findall(text)) + 1.3 * len(_WORD.findall(text)))


@dataclass(frozen=True, slots=True)
class ChunkingConfig:
    """Target and overlap in approximate tokens; ``max_tokens`` bounds one oversized sentence.

    The defaults give chunks of roughly 150-300 Chinese characters: long enough to hold an
    answer with its context, short enough that five of them fit easily in a prompt and well
    under the 512-token window of the embedding model.
    """

    target_tokens: int = 200
    overlap_tokens: int = 40
    max_tokens: int = 320


@dataclass(frozen=True, slots=True)
class Chunk:
    ord: int
    text: str
    tokens: int
    page: int | None
    section: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Unit:
    """A piece that is never split further: a sentence, a table row, or a hard-cut slice."""

    text: str
    tokens: int
    page: int | None
    paragraph_start: bool


def split_sentences(text: str) -> list[str]:
    """Split after Chinese and English sentence ends, keeping the punctuation."""
    parts: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        if end > start:
            parts.append(text[start:end])
            start = end
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _hard_split(sentence: str, max_tokens: int) -> list[str]:
    """Cut a sentence longer than ``max_tokens`` at commas, then at the token budget."""
    pieces: list[str] = []
    current = ""
    for clause in re.split(r"(?<=[，,、：:])", sentence):
        if current and count_tokens(current + clause) > max_tokens:
            pieces.append(current)
            current = ""
        rest = clause
        while count_tokens(rest) > max_tokens:
            cut = _prefix_within(rest, max_tokens)
            pieces.append(rest[:cut])
            rest = rest[cut:]
        current += rest
    if current.strip():
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


def _prefix_within(text: str, max_tokens: int) -> int:
    """Length of the longest prefix within ``max_tokens`` (binary search, at least 1 char)."""
    low, high = 1, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if count_tokens(text[:mid]) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return low


def _units(block: Block, config: ChunkingConfig) -> list[_Unit]:
    if block.kind is BlockKind.TABLE_ROW:
        return [_Unit(block.text, count_tokens(block.text), block.page, True)]
    units: list[_Unit] = []
    for sentence in split_sentences(block.text):
        for piece in _hard_split(sentence, config.max_tokens):
            units.append(_Unit(piece, count_tokens(piece), block.page, not units))
    return units


def _join(units: list[_Unit]) -> str:
    text = ""
    for unit in units:
        if not text:
            text = unit.text
        elif unit.paragraph_start:
            text += "\n" + unit.text
        elif (_CJK.match(unit.text[:1]) and _CJK.search(text[-1:])) or text[-1:] in "。！？；…":
            text += unit.text
        else:
            text += " " + unit.text
    return text


def chunk_blocks(blocks: list[Block], config: ChunkingConfig | None = None) -> list[Chunk]:
    """Group blocks into chunks of about ``target_tokens``, section by section."""
    config = config or ChunkingConfig()
    chunks: list[Chunk] = []
    current: list[_Unit] = []
    section: tuple[str, ...] = ()

    def emit() -> None:
        if current:
            text = _join(current)
            tokens = sum(u.tokens for u in current)
            chunks.append(Chunk(len(chunks), text, tokens, current[0].page, section))

    for block in blocks:
        new_page = bool(current) and block.page != current[-1].page
        if block.kind is BlockKind.HEADING or block.section != section or new_page:
            emit()
            current = []
            section = block.section
            if block.kind is BlockKind.HEADING:
                continue
        for unit in _units(block, config):
            size = sum(u.tokens for u in current)
            if current and size + unit.tokens > config.target_tokens:
                emit()
                current = _overlap(current, config.overlap_tokens)
            current.append(unit)
    emit()
    return chunks


def _overlap(previous: list[_Unit], budget: int) -> list[_Unit]:
    """The trailing units of the previous chunk that fit in the overlap budget."""
    kept: list[_Unit] = []
    used = 0
    for unit in reversed(previous):
        if used + unit.tokens > budget:
            break
        kept.insert(0, unit)
        used += unit.tokens
    return kept
