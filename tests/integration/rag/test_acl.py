"""Department isolation: what one department's knowledge base holds never reaches another.

The canary is a made-up code name and a fact that exists only in the finance knowledge
base. Legal staff ask for it in many ways, including its exact text, through every path
that returns chunks, and must get nothing of it.
"""

from __future__ import annotations

import pytest

from appliance.errors import Forbidden, NotFound
from appliance.rag.schemas import UploadedFile
from appliance.rag.service import KnowledgeService

CANARY = "金丝雀项目CANARY-7Q4Z的预算为三千七百万元"
CANARY_TEXT = (
    f"# 绝密项目\n\n{CANARY}，由财务部统一管理。项目代号 CANARY-7Q4Z 不得外传。\n\n"
    "## Budget\n\nProject CANARY-7Q4Z has a budget of 37 million yuan.\n"
)
QUERIES = [
    CANARY,
    "CANARY-7Q4Z",
    "canary-7q4z",
    "金丝雀项目",
    "金丝雀项目的预算是多少？",
    "三千七百万元",
    "绝密项目",
    "财务部统一管理的项目",
    "What is the budget of project CANARY-7Q4Z?",
    "37 million yuan budget",
    "Budget",
    "预算",
    "项目",
    "的",
    "*",
    "' OR 1=1 --",
    "CANARY | 7Q4Z & !x",
]


@pytest.fixture(scope="module")
async def kbs(knowledge: KnowledgeService, person):  # type: ignore[no-untyped-def]
    finance_editor = person("li.na", "/dept/finance", roles=("staff", "kb-editor"))
    legal_editor = person("wang.fang", "/dept/legal", roles=("staff", "kb-editor"))
    finance = await knowledge.create_kb(finance_editor, "财务绝密", "/dept/finance")
    legal = await knowledge.create_kb(legal_editor, "法务资料", "/dept/legal")
    results = await knowledge.ingest_files(
        finance_editor, finance.id, [UploadedFile(name="secret.md", data=CANARY_TEXT.encode())]
    )
    assert results[0].status == "ready"
    legal_doc = "# 合同审查\n\n合同审查须在五个工作日内完成。项目预算需法务确认。\n"
    results = await knowledge.ingest_files(
        legal_editor, legal.id, [UploadedFile(name="contracts.md", data=legal_doc.encode())]
    )
    assert results[0].status == "ready"
    return finance, legal


def _leaks(hits: list) -> list:  # type: ignore[type-arg]
    return [h for h in hits if "CANARY" in h.text.upper() or "金丝雀" in h.text]


@pytest.mark.parametrize("query", QUERIES)
async def test_other_department_never_sees_the_canary(kbs, knowledge, person, query: str) -> None:  # type: ignore[no-untyped-def]
    finance, legal = kbs
    legal_staff = person("wang.fang", "/dept/legal")
    for kb_ids in (None, [finance.id], [finance.id, legal.id]):
        hits = await knowledge.search(legal_staff, query, kb_ids=kb_ids, top_k=50)
        assert _leaks(hits) == []
        assert all(h.kb_id != finance.id for h in hits)


async def test_owner_department_and_its_subgroups_do_find_it(kbs, knowledge, person) -> None:  # type: ignore[no-untyped-def]
    finance, _ = kbs
    for reader in (person("zhang.wei", "/dept/finance"), person("tax", "/dept/finance/tax")):
        hits = await knowledge.search(reader, "金丝雀项目的预算", kb_ids=[finance.id], top_k=3)
        assert _leaks(hits), reader.groups


async def test_caller_without_any_group_gets_nothing(kbs, knowledge, person) -> None:  # type: ignore[no-untyped-def]
    hits = await knowledge.search(person("nobody"), CANARY, top_k=50)
    assert _leaks(hits) == []
    sibling = person("finance-like", "/dept/finance-archive")
    assert _leaks(await knowledge.search(sibling, CANARY, top_k=50)) == []


async def test_chunk_lookup_by_id_applies_the_same_rule(kbs, knowledge, person) -> None:  # type: ignore[no-untyped-def]
    finance, _ = kbs
    hits = await knowledge.search(person("zhang.wei", "/dept/finance"), CANARY, [finance.id], 5)
    ids = [h.chunk_id for h in hits]
    assert await knowledge.get_chunks(person("wang.fang", "/dept/legal"), ids) == []
    assert len(await knowledge.get_chunks(person("zhang.wei", "/dept/finance"), ids)) == len(ids)


async def test_other_department_cannot_learn_the_knowledge_base_exists(
    kbs, knowledge, person
) -> None:  # type: ignore[no-untyped-def]
    finance, legal = kbs
    legal_staff = person("wang.fang", "/dept/legal")
    listed = {kb.id for kb in await knowledge.list_kbs(legal_staff)}
    assert legal.id in listed and finance.id not in listed
    with pytest.raises(NotFound):
        await knowledge.list_documents(legal_staff, finance.id)
    legal_editor = person("wang.fang", "/dept/legal", roles=("staff", "kb-editor"))
    with pytest.raises(NotFound):
        await knowledge.delete_kb(legal_editor, finance.id)


async def test_a_user_without_a_reader_role_cannot_search(kbs, knowledge, person) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Forbidden):
        await knowledge.search(person("sun.li", "/dept/finance", roles=()), CANARY)
