"""Conversation history in PostgreSQL, per user.

Every query is filtered by the owner's token subject inside SQL, so a user can only ever
list, read, change or delete their own conversations, whatever id the browser sends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from appliance.db.base import Base
from webui.history import StoredMessage

TITLE_MAX = 60


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_subject: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MessageRow(Base):
    __tablename__ = "conversation_messages"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant')", name="role"),
        UniqueConstraint("conversation_id", "position"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    thought_seconds: Mapped[float | None] = mapped_column(Float)
    citations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    id: str
    title: str


def _parse_id(conversation_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(conversation_id)
    except ValueError:
        return None


def title_from(question: str) -> str:
    """A sidebar title from the first question: its first line, shortened."""
    first = question.strip().splitlines()[0] if question.strip() else ""
    return first[:TITLE_MAX] or "…"


class ConversationStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def _owned(self, db: AsyncSession, owner: str, conversation_id: str) -> uuid.UUID | None:
        cid = _parse_id(conversation_id)
        if cid is None:
            return None
        found = await db.scalar(
            select(ConversationRow.id).where(
                ConversationRow.id == cid, ConversationRow.owner_subject == owner
            )
        )
        return found

    async def listing(self, owner: str) -> list[ConversationSummary]:
        async with self._sessions() as db:
            rows = await db.execute(
                select(ConversationRow.id, ConversationRow.title)
                .where(ConversationRow.owner_subject == owner)
                .order_by(ConversationRow.updated_at.desc())
            )
            return [ConversationSummary(str(row.id), row.title) for row in rows]

    async def create(self, owner: str, title: str) -> str:
        async with self._sessions.begin() as db:
            row = ConversationRow(owner_subject=owner, title=title[:TITLE_MAX])
            db.add(row)
        return str(row.id)

    async def rename(self, owner: str, conversation_id: str, title: str) -> bool:
        cid = _parse_id(conversation_id)
        if cid is None or not title.strip():
            return False
        async with self._sessions.begin() as db:
            result = await db.execute(
                update(ConversationRow)
                .where(ConversationRow.id == cid, ConversationRow.owner_subject == owner)
                .values(title=title.strip()[:TITLE_MAX])
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self, owner: str, conversation_id: str) -> bool:
        cid = _parse_id(conversation_id)
        if cid is None:
            return False
        async with self._sessions.begin() as db:
            result = await db.execute(
                delete(ConversationRow).where(
                    ConversationRow.id == cid, ConversationRow.owner_subject == owner
                )
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def messages(self, owner: str, conversation_id: str) -> list[StoredMessage]:
        async with self._sessions() as db:
            cid = await self._owned(db, owner, conversation_id)
            if cid is None:
                return []
            rows = await db.scalars(
                select(MessageRow)
                .where(MessageRow.conversation_id == cid)
                .order_by(MessageRow.position)
            )
            return [
                StoredMessage(
                    r.role,
                    r.content,
                    r.reasoning or "",
                    r.thought_seconds,
                    tuple(r.citations or ()),
                )
                for r in rows
            ]

    async def append(self, owner: str, conversation_id: str, message: StoredMessage) -> bool:
        async with self._sessions.begin() as db:
            cid = await self._owned(db, owner, conversation_id)
            if cid is None:
                return False
            last = await db.scalar(
                select(func.max(MessageRow.position)).where(MessageRow.conversation_id == cid)
            )
            db.add(
                MessageRow(
                    conversation_id=cid,
                    position=(last or 0) + 1,
                    role=message.role,
                    content=message.content,
                    reasoning=message.reasoning or None,
                    thought_seconds=message.thought_seconds,
                    citations=list(message.citations) or None,
                )
            )
            await db.execute(
                update(ConversationRow)
                .where(ConversationRow.id == cid)
                .values(updated_at=func.now())
            )
        return True

    async def drop_last_answer(self, owner: str, conversation_id: str) -> None:
        """Remove the trailing assistant message (before regenerating it)."""
        async with self._sessions.begin() as db:
            cid = await self._owned(db, owner, conversation_id)
            if cid is None:
                return
            last = await db.scalar(
                select(MessageRow)
                .where(MessageRow.conversation_id == cid)
                .order_by(MessageRow.position.desc())
                .limit(1)
            )
            if last is not None and last.role == "assistant":
                await db.delete(last)
