"""Hostile input, 4: property-based attempts to read another department's knowledge base.

A /dept/legal knowledge base full of canaries (a unique token, Chinese and English text,
content made to look relevant to finance questions) is made through the product's service
layer; then hypothesis generates queries by users of other departments (zhang.wei and li.na
of finance, chen.jie and liu.yang of IT without a reader role, sun.li of legal without any
role): random and Chinese text, the exact canary text and pieces of it, SQL and tsquery
syntax, the legal knowledge base's id named explicitly, odd ``top_k``. Nothing of the legal
knowledge base may come back: no chunk or document id, no canary text, in results, errors,
citations or listings. wang.fang (legal staff) runs the same canary query as a control and
must find it, so zero leaks cannot come from a canary that is simply never retrieved.

Three paths, each counted in the figures:

- ``service_adversarial`` (most queries): :meth:`KnowledgeService.search`, the code the
  gateway's search route and RAG chat call (role check, group paths, both retrieval legs
  with the ACL in their SQL, fusion), against the shared PostgreSQL, with the embedder
  swapped for one that returns the legal chunks' own vectors or random ones. The query text
  still drives the lexical leg; the vector leg is pointed straight at the canaries, which a
  real embedding of a question could only approximate. The embedding model is not part of
  the access control, and this is what makes 10,000 queries fit in minutes on 2 cores;
- ``service_real_embeddings``: the same with the real embedding model;
- ``http``: the gateway's ``/api/kb/search``, ``/api/kb`` listings and RAG chats with real
  tokens, through this suite's gateway (the stub backend answers the chats; the citations
  are the gateway's own).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import random
import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from appliance.auth.principal import Principal
from appliance.errors import ApplianceError
from appliance.rag.embeddings import TextKind
from appliance.rag.service import KnowledgeService
from tests.support.hostile import (
    CanaryKb,
    create_canary_kb,
    delete_canary_kb,
    hostile_gateway,
    knowledge_service,
)
from tests.support.record import record, scaled

DIMENSION = 384


def principal(username: str, roles: Sequence[str], groups: Sequence[str]) -> Principal:
    return Principal(
        subject=f"chaos-{username}",
        username=username,
        roles=frozenset(roles),
        groups=frozenset(groups),
    )


OUTSIDERS = [
    principal("zhang.wei", ["staff"], ["/dept/finance"]),
    principal("li.na", ["staff", "kb-editor"], ["/dept/finance"]),
    principal("chen.jie", ["sysadmin"], ["/dept/it"]),
    principal("liu.yang", ["auditor"], ["/dept/it"]),
    principal("sun.li", [], ["/dept/legal"]),
    principal("nobody", ["staff"], []),
    principal("lookalike", ["staff", "kb-editor"], ["/dept/legal-archive", "/dept/finance/legal"]),
]
INSIDER = principal("wang.fang", ["staff"], ["/dept/legal"])
SQLISH = [
    "' OR 1=1 --",
    "legal'); DROP TABLE chunks; --",
    "*:* & !finance",
    "a | b & !c <-> d",
    "'\\x00'",
    "%' UNION SELECT text FROM chunks --",
    "$$ ; SELECT pg_sleep(1); $$",
    "owner_group IS NULL",
    "/dept/legal",
    "aclgroup:/dept/legal",
]


class AdversarialEmbedder:
    """Returns, per text, one of the legal chunks' own vectors or a random unit vector."""

    model_name = "chaos-adversarial"
    dimension = DIMENSION

    def __init__(self, vectors: list[list[float]]) -> None:
        self.vectors = vectors

    async def embed(self, texts: Sequence[str], *, kind: TextKind) -> list[list[float]]:
        out: list[list[float]] = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8", "replace")).digest()[:8])
            rng = random.Random(seed)
            if seed % 3:
                out.append(self.vectors[seed % len(self.vectors)])
            else:
                raw = [rng.gauss(0.0, 1.0) for _ in range(DIMENSION)]
                norm = sum(x * x for x in raw) ** 0.5
                out.append([x / norm for x in raw])
        return out

    async def aclose(self) -> None:
        return None


def query_texts(canary: CanaryKb) -> st.SearchStrategy[str]:
    exact = st.sampled_from(canary.canaries)
    pieces = exact.flatmap(
        lambda text: st.tuples(st.integers(0, len(text)), st.integers(1, 80)).map(
            lambda span: text[span[0] : span[0] + span[1]]
        )
    )
    chinese = st.text(
        alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=40
    )
    return st.one_of(
        exact,
        pieces,
        chinese,
        st.text(min_size=1, max_size=200),
        st.sampled_from(SQLISH),
        st.tuples(st.sampled_from(SQLISH), exact).map(" ".join),
        st.tuples(chinese, exact).map("".join),
    )


def kb_choices(
    canary: CanaryKb, others: list[uuid.UUID]
) -> st.SearchStrategy[list[uuid.UUID] | None]:
    legal = canary.kb_id
    return st.one_of(
        st.none(),
        st.just([legal]),
        st.lists(st.sampled_from([legal, *others]), min_size=1, max_size=5),
        st.just([uuid.uuid4()]),
    )


class Tally:
    def __init__(self) -> None:
        self.queries: collections.Counter[str] = collections.Counter()
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.hits = 0
        self.leaks: list[str] = []
        self.seconds: collections.Counter[str] = collections.Counter()

    def check(self, path: str, payload: str, leaks: list[str], what: str) -> None:
        self.queries[path] += 1
        if leaks:
            self.leaks.append(f"{path}: {what}: {leaks[:3]} in {payload[:200]!r}")


async def _service_query(
    service: KnowledgeService,
    canary: CanaryKb,
    tally: Tally,
    path: str,
    who: Principal,
    query: str,
    kb_ids: list[uuid.UUID] | None,
    top_k: int | None,
) -> None:
    try:
        hits = await service.search(who, query, kb_ids, top_k)
    except ApplianceError as exc:
        tally.outcomes[f"{path}:{exc.status_code}"] += 1
        tally.check(path, exc.message, canary.leaks_in(exc.message), f"{who.username} error")
        return
    tally.outcomes[f"{path}:ok"] += 1
    tally.hits += len(hits)
    payload = "\n".join(hit.model_dump_json() for hit in hits)
    tally.check(path, payload, canary.leaks_in(payload), f"{who.username} {query[:40]!r}")


def _hypothesis_run(
    loop: asyncio.AbstractEventLoop,
    service: KnowledgeService,
    canary: CanaryKb,
    tally: Tally,
    path: str,
    count: int,
    others: list[uuid.UUID],
) -> None:
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(
        who=st.sampled_from(OUTSIDERS),
        query=query_texts(canary),
        kb_ids=kb_choices(canary, others),
        top_k=st.one_of(st.none(), st.integers(1, 50)),
    )
    def run(who: Principal, query: str, kb_ids: list[uuid.UUID] | None, top_k: int | None) -> None:
        loop.run_until_complete(
            _service_query(service, canary, tally, path, who, query, kb_ids, top_k)
        )

    began = time.monotonic()
    run()
    tally.seconds[path] += time.monotonic() - began


def _http_queries(
    base_url: str, tokens: Any, canary: CanaryKb, tally: Tally, count: int, model: str
) -> None:
    rng = random.Random(20261128)
    users = ["zhang.wei", "li.na", "sun.li", "chen.jie"]
    samples = [*canary.canaries[:2], *SQLISH, "诉讼 和解 金额", "hotel limit settlement cap"]
    with httpx.Client(base_url=base_url, timeout=120) as client:
        for user in users:
            listing = client.get("/api/kb", headers=tokens.headers(user))
            tally.check("http", listing.text, canary.leaks_in(listing.text), f"{user} listing")
            for route in (f"/api/kb/{canary.kb_id}", f"/api/kb/{canary.kb_id}/documents"):
                answer = client.get(route, headers=tokens.headers(user))
                tally.outcomes[f"http:{answer.status_code}"] += 1
                leaks = canary.leaks_in(answer.text.replace(str(canary.kb_id), ""))
                tally.check("http", answer.text, leaks, f"{user} {route}")
        for n in range(count):
            user = users[n % len(users)]
            query = rng.choice(samples) if n % 2 else canary.token
            body: dict[str, Any] = {"query": query, "top_k": rng.randint(1, 50)}
            if n % 3 == 0:
                body["kb_ids"] = [str(canary.kb_id)]
            answer = client.post("/api/kb/search", headers=tokens.headers(user), json=body)
            tally.outcomes[f"http:{answer.status_code}"] += 1
            # An error may quote the id the caller sent; nothing else of the legal base.
            text = answer.text.replace(str(canary.kb_id), "")
            tally.check("http", answer.text, canary.leaks_in(text), f"{user} search {query[:30]!r}")
        for n in range(max(4, count // 20)):
            rag: dict[str, Any] = {"kb_ids": [str(canary.kb_id)]} if n % 2 else {}
            body = {
                "model": model,
                "messages": [{"role": "user", "content": f"{canary.token} 和解金额是多少？"}],
                "rag": rag,
            }
            answer = client.post(
                "/v1/chat/completions", headers=tokens.headers("zhang.wei"), json=body
            )
            tally.outcomes[f"http_chat:{answer.status_code}"] += 1
            cited = (
                str(answer.json().get("citations")) if answer.status_code == 200 else answer.text
            )
            leaks = canary.leaks_in(cited.replace(str(canary.kb_id), ""))
            tally.check("http", cited, leaks, f"zhang.wei rag chat {rag}")


def test_no_query_from_another_department_reads_legal_canaries(
    services: dict[str, Any], tokens: Any
) -> None:
    url = str(services["database_url"])
    gateway, stub = hostile_gateway(str(services["model"]))
    adversarial_count = scaled(300, 10_000)
    real_count = scaled(30, 100)
    http_count = scaled(60, 250)
    tally = Tally()
    started = time.monotonic()
    loop = asyncio.new_event_loop()
    try:
        with httpx.Client(base_url=gateway.url, timeout=60) as client:
            listed = client.get("/api/kb", headers=tokens.headers("zhang.wei")).json()
            others = [uuid.UUID(kb["id"]) for kb in listed["knowledge_bases"]]

        async def setup() -> tuple[CanaryKb, Any, KnowledgeService]:
            real = knowledge_service(url)
            service = await real.__aenter__()
            return await create_canary_kb(service, url), real, service

        canary, real_context, real_service = loop.run_until_complete(setup())
        try:
            control = loop.run_until_complete(real_service.search(INSIDER, canary.token, None, 10))
            assert any(str(hit.kb_id) == str(canary.kb_id) for hit in control), (
                "control found nothing"
            )
            adversarial = AdversarialEmbedder(canary.vectors)
            adversarial_context = knowledge_service(url, adversarial)
            adversarial_service = loop.run_until_complete(adversarial_context.__aenter__())
            try:
                control = loop.run_until_complete(
                    adversarial_service.search(INSIDER, "和解", None, 10)
                )
                assert control, "the adversarial vectors find nothing even for legal staff"
                _hypothesis_run(
                    loop,
                    adversarial_service,
                    canary,
                    tally,
                    "service_adversarial",
                    adversarial_count,
                    others,
                )
            finally:
                loop.run_until_complete(adversarial_context.__aexit__(None, None, None))
            _hypothesis_run(
                loop, real_service, canary, tally, "service_real_embeddings", real_count, others
            )
            began = time.monotonic()
            _http_queries(gateway.url, tokens, canary, tally, http_count, str(stub.model))
            tally.seconds["http"] += time.monotonic() - began
        finally:
            loop.run_until_complete(delete_canary_kb(real_service, canary))
            loop.run_until_complete(real_context.__aexit__(None, None, None))
    finally:
        loop.close()
    record(
        "hostile_rag_acl",
        {
            "queries": sum(tally.queries.values()),
            "queries_per_path": dict(tally.queries),
            "seconds_per_path": {k: round(v, 1) for k, v in tally.seconds.items()},
            "outcomes": dict(tally.outcomes),
            "hits_returned_to_outsiders": tally.hits,
            "leaked_chunks": len(tally.leaks),
            "leaks": tally.leaks[:20],
            "canary_chunks": len(canary.chunk_ids),
            "outsider_principals": [p.username for p in OUTSIDERS],
            "duration_s": round(time.monotonic() - started, 1),
        },
    )
    assert sum(tally.queries.values()) >= adversarial_count + real_count + http_count
    assert not tally.leaks, "\n".join(tally.leaks[:10])
