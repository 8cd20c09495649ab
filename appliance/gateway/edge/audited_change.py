"""The order every audited change follows: intent committed, change made, outcome recorded.

A change (a conversation renamed, a knowledge base deleted, a Keycloak account disabled)
must not happen unless the audit store has taken its intent first: :meth:`AuditedChange.begin`
commits an event with outcome ``pending`` and ``phase: begin``, and raises
:class:`~appliance.errors.AuditUnavailable` (503) when it cannot, before anything changed.
:meth:`AuditedChange.recording` then records the outcome once: ``ok``, ``denied`` or
``error``, with ``phase: end``, or ``phase: failed`` when the change was refused before it
began. Each route package builds its own event (type, action, target) and calls these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

from appliance.audit.events import AuditEvent, EventType, Outcome
from appliance.errors import ApplianceError, AuditUnavailable
from appliance.gateway.edge.caller import Caller


class AuditStore(Protocol):
    async def commit(self, event: AuditEvent) -> int: ...

    def submit(self, event: AuditEvent) -> None: ...


@dataclass(slots=True)
class AuditedChange:
    """One change's outcome event, filled in as it goes, and whether its intent is stored."""

    caller: Caller
    audit: AuditStore
    event: AuditEvent
    begun: bool = False

    @classmethod
    def of(
        cls,
        caller: Caller,
        audit: AuditStore,
        event_type: EventType,
        action: str,
        *,
        status: int = 200,
        **detail: object,
    ) -> AuditedChange:
        event = caller.event(event_type, Outcome.OK, http_status=status)
        event.detail = {"action": action, **detail}
        return cls(caller, audit, event)

    @property
    def detail(self) -> dict[str, object]:
        return self.event.detail

    async def begin(self) -> None:
        """Commit the intent; the change may be made only after this returns (else 503)."""
        intent = self.caller.event(
            self.event.event_type,
            Outcome.PENDING,
            document_ids=list(self.event.document_ids),
            detail={**self.event.detail, "phase": "begin"},
        )
        await self.audit.commit(intent)
        self.begun = True

    def finish(self, outcome: Outcome, status: int, error: str = "") -> None:
        event = self.event
        event.outcome, event.http_status = outcome, status
        event.detail["phase"] = "end" if self.begun else "failed"
        if error:
            event.detail["error"] = error
        self.audit.submit(event)

    @asynccontextmanager
    async def recording(
        self,
        *,
        denied_statuses: tuple[int, ...] = (403, 404),
        must_begin: bool = False,
        unrecorded: tuple[type[Exception], ...] = (),
    ) -> AsyncIterator[AuditedChange]:
        """Record the outcome of the change made inside: an error whose status is one of
        ``denied_statuses`` is ``denied``, any other ``error``; an exception of
        ``unrecorded`` is left to the caller to audit. With ``must_begin``, a change that
        ends without having begun is a coding error."""
        try:
            yield self
        except unrecorded:
            raise
        except AuditUnavailable:
            if self.begun:  # the intent is stored: the outcome must follow it
                self.finish(Outcome.ERROR, 503, error=AuditUnavailable.code)
            raise
        except ApplianceError as exc:
            denied = exc.status_code in denied_statuses
            self.finish(Outcome.DENIED if denied else Outcome.ERROR, exc.status_code, exc.code)
            raise
        except Exception:
            self.finish(Outcome.ERROR, 500, error="internal_error")
            raise
        if must_begin and not self.begun:
            action = self.event.detail["action"]
            raise RuntimeError(f"{action} changed nothing it had announced")  # a coding error
        self.finish(Outcome.OK, self.event.http_status or 200)
