"""What a conversation keeps and what the model is sent: the reasoning never goes back to the
model, and citations are stored with the fields a reader needs, numbered."""

from __future__ import annotations

from webui.history import CITATION_FIELDS, StoredMessage, kept_citations, to_upstream


def test_the_model_gets_questions_and_answers_but_never_the_reasoning() -> None:
    messages = [
        StoredMessage("user", "Q1"),
        StoredMessage("assistant", "A1", reasoning="secret thoughts", thought_seconds=3.0),
        StoredMessage("user", "Q2"),
    ]
    assert to_upstream(messages) == [
        {"role": "user", "content": "Q1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
    ]


def test_an_answer_stopped_before_any_text_is_not_sent_back() -> None:
    messages = [
        StoredMessage("user", "Q"),
        StoredMessage("assistant", "", reasoning="only thinking"),
        StoredMessage("user", "Q again"),
    ]
    assert [m["content"] for m in to_upstream(messages)] == ["Q", "Q again"]


def test_citations_keep_only_what_a_reader_needs() -> None:
    sent = [
        {
            "index": 1,
            "document_id": "d",
            "document_name": "a.pdf",
            "chunk_id": "c",
            "page": 2,
            "section": "S",
            "text": "T",
            "score": 0.83,
            "kb_id": "k",
        }
    ]
    [kept] = kept_citations(sent)
    assert set(kept) == set(CITATION_FIELDS)
    assert kept["document_name"] == "a.pdf" and kept["page"] == 2


def test_citations_the_gateway_did_not_number_are_numbered_from_one() -> None:
    kept = kept_citations([{"document_name": "a"}, {"document_name": "b", "index": 7}, {}])
    assert [c["index"] for c in kept] == [1, 7, 3]
    assert kept[2]["document_name"] is None
