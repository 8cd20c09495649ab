"""The knowledge tab's document table names each document's data grade, and says when it
is the knowledge base's rather than the document's own."""

from __future__ import annotations

from webui.i18n import Lang
from webui.ui_knowledge import document_row, grade_label

OWN = {"name": "a.md", "status": "ready", "chunks": 2, "grade": "核心", "own_grade": "核心"}
INHERITED = {**OWN, "own_grade": None, "grade": "一般"}


def test_a_document_s_own_grade_is_shown_as_it_is() -> None:
    assert grade_label(OWN, Lang.ZH) == "核心"


def test_a_grade_taken_from_the_knowledge_base_is_marked_in_both_languages() -> None:
    assert grade_label(INHERITED, Lang.ZH) == "一般（随知识库）"
    assert grade_label(INHERITED, Lang.EN) == "一般 (knowledge base's)"


def test_the_grade_has_its_column_after_the_chunks() -> None:
    row = document_row(OWN, Lang.ZH)
    assert row[:4] == ["a.md", "就绪", 2, "核心"]
    assert grade_label({"name": "old.md"}, Lang.ZH) == ""
