"""The keyword library's operations as the gateway serves them: list, export, import.

An import reads the CSV file or the Excel workbook (``appliance.content.library_csv`` and
``library_xlsx``: a bad row is a 400 naming the line or row and the column), compares it
with the active version and returns the diff. A dry run stops there. A real one commits
its intent (the versions before and after, the counts) before it stores anything, stores
the new version in one transaction, and refreshes this worker's filter. ``base_revision``,
when given (the revision a dry run was computed against), makes the import fail with 409
if another import came in between, so what is applied is the diff the administrator saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request

from appliance.audit.events import EventType, Outcome
from appliance.content.diff import LibraryDiff, diff_libraries
from appliance.content.keywords import KeywordEntry, KeywordLibrary
from appliance.content.library_csv import export_csv, import_csv
from appliance.content.library_xlsx import MEDIA_TYPE as XLSX_MEDIA_TYPE
from appliance.content.library_xlsx import export_xlsx, import_xlsx
from appliance.content.store import ActiveLibrary, Revision
from appliance.errors import Conflict
from appliance.gateway.deps import SecadminPrincipal, State
from appliance.gateway.edge.audited_change import AuditedChange
from appliance.gateway.edge.caller import Caller
from appliance.gateway.state import AuditSink


@dataclass(frozen=True, slots=True)
class ContentContext:
    caller: Caller
    keywords: ActiveLibrary
    audit: AuditSink
    max_import_bytes: int
    imported_by: str  # the secadmin's username, kept with the version


async def content_context(
    request: Request, principal: SecadminPrincipal, state: State
) -> ContentContext:
    return ContentContext(
        caller=Caller.of(request, principal),
        keywords=state.keywords,
        audit=state.audit,
        max_import_bytes=state.settings.content.max_import_bytes,
        imported_by=principal.username,
    )


CurrentContent = Annotated[ContentContext, Depends(content_context)]


def entry_out(entry: KeywordEntry) -> dict[str, str]:
    return {
        "id": entry.id,
        "term": entry.term,
        "category": entry.category,
        "match": str(entry.match),
        "action": str(entry.action),
    }


def revision_out(revision: Revision) -> dict[str, Any]:
    return {
        "revision": revision.id,
        "version": revision.version,
        "entry_count": revision.entry_count,
        "imported_by": revision.imported_by,
        "imported_at": revision.imported_at.isoformat() if revision.imported_at else None,
    }


def diff_out(diff: LibraryDiff) -> dict[str, Any]:
    return {
        "old_version": diff.old_version,
        "new_version": diff.new_version,
        "counts": {
            "added": len(diff.added),
            "removed": len(diff.removed),
            "changed": len(diff.changed),
        },
        "added": [entry_out(e) for e in diff.added],
        "removed": [entry_out(e) for e in diff.removed],
        "changed": [{"before": entry_out(a), "after": entry_out(b)} for a, b in diff.changed],
    }


def audit_read(ctx: ContentContext, action: str, **detail: object) -> None:
    """A read of the library leaves a row too: the terms are the secadmin's to see."""
    event = ctx.caller.event(EventType.CONTENT_ACTION, Outcome.OK, http_status=200)
    event.detail = {"action": action, **detail}
    ctx.audit.submit(event)


class LibraryFormat(StrEnum):
    """The two files a library is exported as and imported from, with the same columns."""

    CSV = "csv"
    XLSX = "xlsx"

    @property
    def media_type(self) -> str:
        return XLSX_MEDIA_TYPE if self is LibraryFormat.XLSX else "text/csv; charset=utf-8"

    @classmethod
    def of_body(cls, content_type: str) -> LibraryFormat:
        """An import's format from its ``Content-Type``: a workbook's, or else CSV (what a
        body without one has always been read as)."""
        media = content_type.partition(";")[0].strip().lower()
        return cls.XLSX if media == XLSX_MEDIA_TYPE else cls.CSV


def read_library(data: bytes, fmt: LibraryFormat) -> KeywordLibrary:
    return import_xlsx(data) if fmt is LibraryFormat.XLSX else import_csv(data)


async def export(ctx: ContentContext, fmt: LibraryFormat) -> tuple[Revision, bytes]:
    revision, library = await ctx.keywords.store.current()
    audit_read(
        ctx, "keywords.export", revision=revision.id, version=revision.version, format=str(fmt)
    )
    data = export_xlsx(library) if fmt is LibraryFormat.XLSX else export_csv(library)
    return revision, data


async def _diff(
    ctx: ContentContext, data: bytes, fmt: LibraryFormat
) -> tuple[int, KeywordLibrary, dict[str, Any]]:
    """The file read (400 naming the row when it is wrong), the active revision, the diff."""
    new = read_library(data, fmt)
    revision, old = await ctx.keywords.store.current()
    diff = diff_libraries(old, new)
    return revision.id, new, {"base_revision": revision.id, **diff_out(diff)}


async def preview_import(ctx: ContentContext, data: bytes, fmt: LibraryFormat) -> dict[str, Any]:
    """What importing ``data`` would change; nothing is stored."""
    base, new, body = await _diff(ctx, data, fmt)
    audit_read(ctx, "keywords.preview", base_revision=base, entries=len(new), **body["counts"])
    return {"dry_run": True, "applied": False, "revision": base, **body}


async def import_library(
    ctx: ContentContext, data: bytes, fmt: LibraryFormat, *, base_revision: int | None
) -> dict[str, Any]:
    """Store ``data`` as the new active version, audited before it is stored."""
    change = AuditedChange.of(
        ctx.caller,
        ctx.audit,
        EventType.CONTENT_ACTION,
        "keywords.import",
        bytes=len(data),
        format=str(fmt),
    )
    async with change.recording(denied_statuses=(403, 404, 409), must_begin=True):
        base, new, body = await _diff(ctx, data, fmt)
        if base_revision is not None and base_revision != base:
            raise Conflict(
                f"The library changed since revision {base_revision} (now {base});"
                " preview the import again.",
                code="library_changed",
            )
        change.detail.update(
            base_revision=base,
            old_version=body["old_version"],
            new_version=body["new_version"],
            entries=len(new),
            **body["counts"],
        )
        await change.begin()
        stored = await ctx.keywords.store.save(new, ctx.imported_by)
        change.detail["revision"] = stored.id
        await ctx.keywords.refresh()
    return {"dry_run": False, "applied": True, "revision": stored.id, **body}
