"""Lexical search terms for Chinese and English: jieba segmentation into a ``simple`` tsvector.

PostgreSQL's parsers do not segment Chinese, so text is cut into words by jieba (search
mode, which also emits the shorter words inside long compounds) and stored as
space-separated tokens under the ``simple`` configuration (lower-casing only, no stemming,
no stop words). Queries go through the same segmentation. Query terms are OR-ed so a
question still matches a passage that shares only its key words, and the commonest function
words are dropped from queries because OR-ing them in would match nearly every chunk.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from typing import Any

_TOKEN = re.compile(r"^\w+$")
_WORD = re.compile(r"\w+")
_CJK_RUN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_QUERY_STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "和",
        "与",
        "及",
        "或",
        "也",
        "都",
        "就",
        "而",
        "并",
        "被",
        "把",
        "对",
        "从",
        "以",
        "为",
        "于",
        "之",
        "其",
        "这",
        "那",
        "有",
        "个",
        "中",
        "上",
        "下",
        "吗",
        "呢",
        "吧",
        "啊",
        "什么",
        "哪",
        "哪个",
        "哪些",
        "哪里",
        "哪儿",
        "谁",
        "多少",
        "几",
        "怎么",
        "怎样",
        "如何",
        "为何",
        "为什么",
        "是否",
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "what",
        "which",
        "who",
        "whom",
        "when",
        "where",
        "how",
        "why",
        "does",
        "do",
        "did",
    ]
)
_lock = threading.Lock()
_jieba: Any = None


def _segmenter() -> Any:
    """jieba, loaded once per process with its log line silenced (dictionary load ~1 s)."""
    global _jieba  # noqa: PLW0603 - one dictionary per process, loaded on first use
    with _lock:
        if _jieba is None:
            import jieba  # noqa: PLC0415 - the dictionary load is deferred to first use

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return _jieba


def tokens(text: str) -> list[str]:
    """Word tokens of ``text`` (lower-cased), punctuation and whitespace removed.

    Only runs of Chinese characters go through jieba; everything else is split into words
    by a regular expression, which gives the same tokens for English and numbers and is
    many times faster.
    """
    out: list[str] = []
    for run in _CJK_RUN.split(text.lower()):
        if _CJK_RUN.fullmatch(run):
            out.extend(w for w in _segmenter().lcut_for_search(run) if _TOKEN.match(w))
        else:
            out.extend(_WORD.findall(run))
    return out


def document_terms(text: str) -> str:
    """Space-separated tokens to feed ``to_tsvector('simple', ...)``."""
    return " ".join(tokens(text))


def query_terms(text: str) -> str | None:
    """A ``to_tsquery('simple', ...)`` expression OR-ing the query's content words.

    Tokens are ``\\w+`` only, so nothing in the expression can be tsquery syntax. Returns
    None when the query has no content words at all.
    """
    unique = list(dict.fromkeys(t for t in tokens(text) if t not in _QUERY_STOPWORDS))
    return " | ".join(unique) if unique else None


def acl_term(owner_group: str | None) -> str:
    """The lexeme that marks a chunk's owner group inside its tsvector.

    It lets the GIN index apply the group filter while it matches words, so a search does not
    fetch the matching chunks of every other department only to discard them. The explicit
    ``owner_group`` predicate stays in the SQL as the rule itself; this is an accelerator.
    A hash keeps arbitrary group names out of tsquery syntax.
    """
    return "acl" + hashlib.md5((owner_group or "").encode(), usedforsecurity=False).hexdigest()


def acl_query(paths: list[str]) -> str:
    """``to_tsquery`` expression matching organisation-wide chunks and those of ``paths``."""
    return " | ".join([acl_term(None), *(acl_term(p) for p in paths)])
