"""Data grades at retrieval: no chunk above the caller's clearance leaves PostgreSQL.

Nine knowledge bases (finance, legal, organisation-wide; each at 一般, 重要 and 核心) hold a
document that takes its knowledge base's grade and one with a grade of its own; then one
knowledge base and one document are graded again. Hypothesis draws callers (any mix of
departments, any clearance including none and names not on the scale) and queries (the
documents' own code words, alone and together), and every hit must be of a department the
caller reads and of a grade within the clearance, named as the truth says. The controls
show that the same queries do find what a cleared reader may read, so zero leaks cannot
come from a canary that is never retrieved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from appliance.auth.principal import Principal
from appliance.errors import InvalidRequest
from appliance.rag.schemas import UploadedFile
from appliance.rag.service import KnowledgeService

GRADES = ["一般", "重要", "核心"]
OWNERS = ["/dept/finance", "/dept/legal", None]
# What each clearance claim must allow, written out rather than computed by the product.
CLEARANCES = {"": 1, "一般": 1, "重要": 2, "核心": 3, " 核心 ": 3, "绝密": 1, "TOP": 1}
GROUPS = ["/dept/finance", "/dept/legal", "/dept/finance/tax", "/dept/it", "/dept/legal-x"]


@dataclass
class Truth:
    """Each document's department and grade level, kept in step with the regrading."""

    owner: dict[uuid.UUID, str | None]
    level: dict[uuid.UUID, int]
    words: dict[uuid.UUID, str]


def _word(owner: str | None, kb_level: int, kind: str) -> str:
    return f"gradecanary{(owner or '/org').split('/')[-1]}{kb_level}{kind}"


def _editor(owner: str | None) -> Principal:
    groups = frozenset({owner}) if owner else frozenset()
    return Principal("sub-ed", "editor", frozenset({"staff", "kb-editor"}), groups)


def _reader(groups: frozenset[str], clearance: str) -> Principal:
    return Principal("sub-r", "reader", frozenset({"staff"}), groups, clearance=clearance)


def _readable(owner: str | None, groups: frozenset[str]) -> bool:
    if owner is None:
        return True
    return any(g == owner or g.startswith(owner + "/") for g in groups)


@pytest.fixture(scope="module")
async def truth(knowledge: KnowledgeService) -> Truth:
    found = Truth({}, {}, {})
    for owner in OWNERS:
        editor = _editor(owner)
        for kb_level, grade in enumerate(GRADES, start=1):
            name = f"grades-{owner}-{grade}-{uuid.uuid4().hex[:6]}"
            kb = await knowledge.create_kb(editor, name, owner, grade=grade)
            assert kb.grade == grade
            own_level = kb_level % 3 + 1
            for kind, own in (("k", None), ("o", GRADES[own_level - 1])):
                word = _word(owner, kb_level, kind)
                body = f"# 制度 {word}\n\n{word} 是本部门的内部资料，编号 {word}。\n"
                files = [UploadedFile(name=f"{word}.md", data=body.encode())]
                (result,) = await knowledge.ingest_files(editor, kb.id, files, grade=own)
                assert result.status == "ready" and result.id is not None
                found.owner[result.id] = owner
                found.level[result.id] = own_level if own else kb_level
                found.words[result.id] = word
    await _regrade(knowledge, found)
    return found


async def _regrade(knowledge: KnowledgeService, found: Truth) -> None:
    """Finance's 一般 knowledge base becomes 核心 (its ungraded document follows, the graded
    one keeps 重要); legal's 核心 document of its own grade 一般 takes the knowledge base's."""
    editor = _editor("/dept/finance")
    kbs = {kb.name: kb for kb in await knowledge.list_kbs(editor)}
    finance_low = next(
        kb for name, kb in kbs.items() if name.startswith("grades-/dept/finance-一般")
    )
    assert (await knowledge.set_kb_grade(editor, finance_low.id, "核心")).grade == "核心"
    for doc in await knowledge.list_documents(editor, finance_low.id):
        if doc.own_grade is None:
            found.level[doc.id] = 3
        assert doc.grade == GRADES[found.level[doc.id] - 1]
    legal = _editor("/dept/legal")
    legal_kbs = {kb.name: kb for kb in await knowledge.list_kbs(legal)}
    legal_top = next(kb for n, kb in legal_kbs.items() if n.startswith("grades-/dept/legal-核心"))
    graded = next(d for d in await knowledge.list_documents(legal, legal_top.id) if d.own_grade)
    cleared = await knowledge.set_document_grade(legal, legal_top.id, graded.id, None)
    assert cleared.own_grade is None and cleared.grade == "核心"
    found.level[graded.id] = 3


def _leaks(truth: Truth, who: Principal, allowed: int, hits: list) -> list[str]:  # type: ignore[type-arg]
    leaks = []
    for hit in hits:
        doc = hit.document_id
        if doc not in truth.owner:
            continue
        level = truth.level[doc]
        ok = _readable(truth.owner[doc], who.groups) and level <= allowed
        if not ok or hit.grade != GRADES[level - 1] or hit.grade_level != level:
            leaks.append(f"{truth.words[doc]} (level {level}, named {hit.grade})")
    return leaks


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(
    groups=st.frozensets(st.sampled_from(GROUPS), max_size=3),
    clearance=st.sampled_from(sorted(CLEARANCES)),
    words=st.lists(
        st.tuples(st.sampled_from(OWNERS), st.integers(1, 3), st.sampled_from("ko")),
        min_size=1,
        max_size=3,
    ),
    top_k=st.integers(1, 50),
)
async def test_no_chunk_above_the_clearance_or_outside_the_departments(
    truth: Truth,
    knowledge: KnowledgeService,
    groups: frozenset[str],
    clearance: str,
    words: list[tuple[str | None, int, str]],
    top_k: int,
) -> None:
    who = _reader(groups, clearance)
    query = " ".join(_word(*each) for each in words)
    hits = await knowledge.search(who, query, top_k=top_k)
    assert _leaks(truth, who, CLEARANCES[clearance], hits) == []
    by_id = await knowledge.get_chunks(who, [hit.chunk_id for hit in hits])
    assert _leaks(truth, who, CLEARANCES[clearance], by_id) == []


async def test_chunk_lookup_by_id_drops_what_is_above_the_clearance(
    truth: Truth, knowledge: KnowledgeService, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT id, document_id FROM chunks WHERE document_id = ANY(:ids)"),
            {"ids": list(truth.owner)},
        )
        chunks = {row.id: row.document_id for row in rows}
    everyone = frozenset({"/dept/finance", "/dept/legal"})
    for clearance, allowed in (("", 1), ("重要", 2), ("核心", 3)):
        got = await knowledge.get_chunks(_reader(everyone, clearance), list(chunks))
        expected = {c for c, doc in chunks.items() if truth.level[doc] <= allowed}
        assert {hit.chunk_id for hit in got} == expected
        assert _leaks(truth, _reader(everyone, clearance), allowed, got) == []


async def test_a_cleared_reader_finds_each_grade_and_a_lower_one_does_not(
    truth: Truth, knowledge: KnowledgeService
) -> None:
    for doc, level in truth.level.items():
        owner = truth.owner[doc]
        groups = frozenset({owner}) if owner else frozenset()
        cleared = await knowledge.search(_reader(groups, GRADES[level - 1]), truth.words[doc])
        assert doc in {hit.document_id for hit in cleared}, truth.words[doc]
        if level > 1:
            below = await knowledge.search(_reader(groups, GRADES[level - 2]), truth.words[doc])
            assert doc not in {hit.document_id for hit in below}, truth.words[doc]


async def test_a_grade_not_on_the_scale_is_refused(
    truth: Truth, knowledge: KnowledgeService
) -> None:
    editor = _editor("/dept/finance")
    with pytest.raises(InvalidRequest):
        await knowledge.create_kb(editor, "grades-bad", "/dept/finance", grade="绝密")
    kb = (await knowledge.list_kbs(editor))[0]
    with pytest.raises(InvalidRequest):
        await knowledge.set_kb_grade(editor, kb.id, "secret")
