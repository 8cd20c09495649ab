"""What goes over the wire for a complaint: the bodies a client sends, the shapes it gets.

Text is refused with NUL characters (422), which PostgreSQL cannot store, and a note that
closes a complaint must say something: the handling is what the record is for.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from appliance.conversations.schemas import StoredText, non_blank

Category = Literal["illegal", "false_information", "personal_information", "other"]
State = Literal["open", "handled", "dismissed"]
# The states a complaint may be closed with; an open one is never reopened.
Closing = Literal["handled", "dismissed"]
TEXT_MAX = 2000


PlainText = StoredText
Note = Annotated[PlainText, non_blank("The note needs some text")]


class NewComplaint(BaseModel):
    """A flag on one answer of the caller's own conversation, named by its position."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: uuid.UUID
    position: int = Field(ge=1)
    category: Category
    reason: PlainText = Field(default="", max_length=TEXT_MAX)


class Transition(BaseModel):
    """Close an open complaint as handled or dismissed, saying what was done and why."""

    model_config = ConfigDict(extra="forbid")

    state: Closing
    note: Note = Field(min_length=1, max_length=TEXT_MAX)


class ComplaintOut(BaseModel):
    id: int
    state: State
    category: Category
    reason: str
    reporter: str
    conversation_id: uuid.UUID
    position: int
    question: str
    answer: str
    created_at: datetime
    updated_at: datetime
    handler: str | None
    note: str | None
    handled_at: datetime | None


class ComplaintPage(BaseModel):
    total: int
    offset: int
    limit: int
    complaints: list[ComplaintOut]
