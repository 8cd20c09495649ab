"""An answer's data grade is the highest among the passages it cites, in both answer shapes."""

from __future__ import annotations

import uuid

import orjson

from appliance.gateway.chat.grounding import Grounding
from appliance.gateway.chat.sse import AnswerCapture
from appliance.rag.schemas import SearchHit

NAMES = {1: "一般", 2: "重要", 3: "核心"}


def _hit(level: int) -> SearchHit:
    return SearchHit(
        document_id=uuid.uuid4(),
        document_name=f"doc-{level}.md",
        kb_id=uuid.uuid4(),
        chunk_id=uuid.uuid4(),
        text=f"passage of grade {level}",
        score=0.1,
        grade_level=level,
        grade=NAMES[level],
    )


def test_the_answer_takes_the_highest_grade_of_its_citations() -> None:
    for levels, expected in (
        ([1], "一般"),
        ([1, 2], "重要"),
        ([2, 3, 1], "核心"),
        ([3, 3], "核心"),
    ):
        grounding = Grounding(hits=[_hit(level) for level in levels])
        assert grounding.grade == expected
        assert [c["grade"] for c in grounding.citations()] == [NAMES[n] for n in levels]


def test_an_answer_citing_nothing_has_no_grade() -> None:
    assert Grounding(hits=[]).grade is None


def test_a_complete_answer_carries_the_grade_beside_its_citations() -> None:
    grounding = Grounding(hits=[_hit(1), _hit(2)])
    capture = AnswerCapture(citations=grounding.citations(), grade=grounding.grade)
    body = {"id": "c1", "choices": [{"index": 0, "message": {"content": "答"}}]}
    out = orjson.loads(capture.message_body(orjson.dumps(body)))
    assert out["grade"] == "重要"
    assert [c["grade"] for c in out["citations"]] == ["一般", "重要"]


def test_a_stream_carries_the_grade_in_its_last_chunk_before_done() -> None:
    grounding = Grounding(hits=[_hit(3), _hit(1)])
    capture = AnswerCapture(citations=grounding.citations(), grade=grounding.grade)
    delta = {"id": "c1", "choices": [{"index": 0, "delta": {"content": "答"}}]}
    raw = b"data: " + orjson.dumps(delta) + b"\n\ndata: [DONE]\n\n"
    events = [e for e in capture.feed(raw).split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    last = orjson.loads(events[-2][6:])
    assert last["grade"] == "核心"
    assert len(last["citations"]) == 2
