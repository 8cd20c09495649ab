"""The complaint queries: filing against the caller's own message, the queue, closing one.

A message is found through its conversation's owner inside SQL, so another user's
conversation id answers 404 exactly as an unknown one (ids cannot be probed). Only an
answer may be flagged: a question is the user's own text. Closing takes the row's lock, so
two administrators closing the same complaint at once cannot both succeed (the second gets
409): an open complaint is closed once, and a closed one stays closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from appliance.complaints.models import ComplaintRow
from appliance.complaints.schemas import ComplaintOut, ComplaintPage, NewComplaint, Transition
from appliance.conversations.models import ConversationRow, MessageRow
from appliance.errors import Conflict, InvalidRequest, NotFound


@dataclass(frozen=True, slots=True)
class Reporter:
    """Who files: the token's subject (whose conversations are searched) and username."""

    subject: str
    username: str


def out(row: ComplaintRow) -> ComplaintOut:
    return ComplaintOut.model_validate(
        {
            "id": row.id,
            "state": row.state,
            "category": row.category,
            "reason": row.reason,
            "reporter": row.reporter_username,
            "conversation_id": row.conversation_id,
            "position": row.position,
            "question": row.question,
            "answer": row.answer,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "handler": row.handler_username,
            "note": row.note,
            "handled_at": row.handled_at,
        }
    )


class ComplaintService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @staticmethod
    async def _message(db: AsyncSession, owner: str, body: NewComplaint) -> MessageRow:
        message = await db.scalar(
            select(MessageRow)
            .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
            .where(
                ConversationRow.id == body.conversation_id,
                ConversationRow.owner_subject == owner,
                MessageRow.position == body.position,
            )
        )
        if message is None:
            raise NotFound("No such message.", code="message_not_found")
        if message.role != "assistant":
            raise InvalidRequest("Only an answer can be reported.", code="not_an_answer")
        return message

    async def file(self, reporter: Reporter, body: NewComplaint) -> ComplaintOut:
        """Store the complaint with a copy of the answer and the question before it."""
        async with self._sessions.begin() as db:
            message = await self._message(db, reporter.subject, body)
            question = await db.scalar(
                select(MessageRow.content)
                .where(
                    MessageRow.conversation_id == message.conversation_id,
                    MessageRow.position < message.position,
                    MessageRow.role == "user",
                )
                .order_by(MessageRow.position.desc())
                .limit(1)
            )
            row = ComplaintRow(
                reporter_subject=reporter.subject,
                reporter_username=reporter.username,
                conversation_id=message.conversation_id,
                message_id=message.id,
                position=message.position,
                question=question or "",
                answer=message.content,
                category=body.category,
                reason=body.reason,
                state="open",
            )
            db.add(row)
            await db.flush()
            await db.refresh(row)
            return out(row)

    async def mine(self, reporter_subject: str) -> list[ComplaintOut]:
        """The reporter's own complaints, newest first."""
        async with self._sessions() as db:
            rows = await db.scalars(
                select(ComplaintRow)
                .where(ComplaintRow.reporter_subject == reporter_subject)
                .order_by(ComplaintRow.id.desc())
            )
            return [out(row) for row in rows]

    async def page(self, *, state: str | None, offset: int, limit: int) -> ComplaintPage:
        """The queue: one state's complaints (all when ``state`` is None), oldest first."""
        where = [] if state is None else [ComplaintRow.state == state]
        async with self._sessions() as db:
            total = await db.scalar(select(func.count()).select_from(ComplaintRow).where(*where))
            rows = await db.scalars(
                select(ComplaintRow)
                .where(*where)
                .order_by(ComplaintRow.id)
                .offset(offset)
                .limit(limit)
            )
            return ComplaintPage(
                total=total or 0,
                offset=offset,
                limit=limit,
                complaints=[out(row) for row in rows],
            )

    async def close(self, complaint_id: int, change: Transition, handler: str) -> ComplaintOut:
        """Close an open complaint (404 unknown, 409 already closed)."""
        async with self._sessions.begin() as db:
            row = await db.get(ComplaintRow, complaint_id, with_for_update=True)
            if row is None:
                raise _missing()
            if row.state != "open":
                raise Conflict(f"The complaint is already {row.state}.", code="complaint_closed")
            row.state, row.note, row.handler_username = change.state, change.note, handler
            row.handled_at = row.updated_at = func.now()
            await db.flush()
            await db.refresh(row)
            return out(row)


def _missing() -> NotFound:
    return NotFound("No such complaint.", code="complaint_not_found")
