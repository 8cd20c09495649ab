"""The complaints table: one row per flagged answer, with its handling.

The conversation and message are named by id without foreign keys: a complaint is a record
of what was reported and must outlive the conversation it came from (the user may delete
it), which is also why the answer and its question are copied in.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Identity, Index, Integer, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from appliance.db.base import Base

CATEGORIES = ("illegal", "false_information", "personal_information", "other")
STATES = ("open", "handled", "dismissed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ComplaintRow(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint(_one_of("category", CATEGORIES), name="category_known"),
        CheckConstraint(_one_of("state", STATES), name="state_known"),
        Index(None, "state", "id"),
        Index(None, "reporter_subject", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    reporter_subject: Mapped[str] = mapped_column(Text)
    reporter_username: Mapped[str] = mapped_column(Text)
    conversation_id: Mapped[uuid.UUID] = mapped_column()
    message_id: Mapped[uuid.UUID] = mapped_column()
    position: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text, server_default="open")
    handler_username: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    handled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
