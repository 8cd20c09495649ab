"""Conversations as the gateway returns them, built for the tests of what it does with one
(the exports): a question and its answer, the answer's reasoning, citations and grade."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from appliance.conversations.schemas import ConversationDetail, MessageOut


def question_and_answer(
    conversation_id: str,
    title: str,
    at: datetime,
    question: str,
    answer: str,
    *,
    reasoning: str = "",
    thought_seconds: float | None = None,
    citations: list[dict[str, Any]],
    grade: str | None = None,
) -> ConversationDetail:
    """A conversation created and last updated ``at``: the question at position 1 (no
    reasoning, no citations), the answer at 2."""
    return ConversationDetail(
        id=uuid.UUID(conversation_id),
        title=title,
        created_at=at,
        updated_at=at,
        messages=[
            MessageOut(
                position=1,
                role="user",
                content=question,
                reasoning="",
                thought_seconds=None,
                citations=[],
            ),
            MessageOut(
                position=2,
                role="assistant",
                content=answer,
                reasoning=reasoning,
                thought_seconds=thought_seconds,
                citations=citations,
                grade=grade,
            ),
        ],
    )
