"""What goes over the wire for a conversation: the bodies a client sends and the shapes it
gets back. Text is refused with NUL characters (422): PostgreSQL cannot store them, and a
client's mistake must not become a server error."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

# A sidebar title is this long at most; a longer one is cut, as the first question is.
TITLE_MAX = 60
# Generous bounds on what one message may carry: an answer's reasoning can run to tens of
# thousands of characters, but a body is never unbounded.
TEXT_MAX = 1_000_000
CITATIONS_MAX = 100


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


def non_blank(message: str) -> AfterValidator:
    """A validator trimming a text and refusing it blank with ``message``: a name or a note
    of only spaces says nothing (the complaints' notes use it too)."""

    def has_text(value: str) -> str:
        if not value.strip():
            raise ValueError(message)
        return value.strip()

    return AfterValidator(has_text)


# Text PostgreSQL can store (no NUL); the complaints' text is the same.
StoredText = Annotated[str, AfterValidator(_no_nul)]
# A title as the sidebar shows it: trimmed, never blank.
Title = Annotated[StoredText, non_blank("A title needs some text")]


class NewConversation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title = Field(min_length=1, max_length=2000)


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title = Field(min_length=1, max_length=2000)


class Citation(BaseModel):
    """A passage an answer was grounded on, as the gateway's chat sent it."""

    model_config = ConfigDict(extra="forbid")

    index: int | None = None
    document_id: StoredText | None = Field(default=None, max_length=200)
    document_name: StoredText | None = Field(default=None, max_length=1000)
    chunk_id: StoredText | None = Field(default=None, max_length=200)
    page: int | None = None
    section: StoredText | None = Field(default=None, max_length=1000)
    text: StoredText | None = Field(default=None, max_length=100_000)
    # The passage's data grade, as the chat named it.
    grade: StoredText | None = Field(default=None, max_length=100)


class NewMessage(BaseModel):
    """One question or answer, appended after the conversation's last message."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: StoredText = Field(max_length=TEXT_MAX)
    reasoning: StoredText = Field(default="", max_length=TEXT_MAX)
    thought_seconds: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    citations: list[Citation] = Field(default_factory=list, max_length=CITATIONS_MAX)
    # The answer's data grade: the highest among its citations, as the chat sent it.
    grade: StoredText | None = Field(default=None, max_length=100)


class ConversationOut(BaseModel):
    id: uuid.UUID
    title: str
    created_at: datetime
    updated_at: datetime


class ConversationList(BaseModel):
    conversations: list[ConversationOut]


class MessageOut(BaseModel):
    position: int
    role: str
    content: str
    reasoning: str
    thought_seconds: float | None
    citations: list[dict[str, Any]]
    grade: str | None = None


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]
