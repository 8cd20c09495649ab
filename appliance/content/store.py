"""The keyword library in PostgreSQL, and the gateway's copy of the active one.

``LibraryStore`` reads and writes versions (``appliance.content.models``): an import adds a
version in one transaction, so a reader sees the old library or the new one, never half.
``ActiveLibrary`` is what every chat asks for the matcher: it reads the newest revision
number at most once per ``ttl_s`` (one indexed read) and loads and builds the library only
when that number changed, building in a worker thread (10,000 entries take about 0.35 s)
so no request waits on the event loop meanwhile. A worker that imported refreshes at
once; the others within ``ttl_s``.

May import ``appliance.db`` and the modules beside it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

import anyio
from sqlalchemy import Row, func, insert, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from appliance.content.keywords import Action, KeywordEntry, KeywordLibrary, Matcher, MatchMode
from appliance.content.models import KeywordEntryRow, KeywordLibraryRow

log = logging.getLogger("appliance.content")

_EMPTY = KeywordLibrary(())


@dataclass(frozen=True, slots=True)
class Revision:
    """One stored version of the library (``id`` 0: none imported yet)."""

    id: int
    version: str
    entry_count: int
    imported_by: str
    imported_at: datetime | None


@dataclass(frozen=True, slots=True)
class EntryPage:
    revision: Revision
    total: int
    entries: tuple[KeywordEntry, ...]


_NONE = Revision(0, _EMPTY.version, 0, "", None)


def _revision(row: KeywordLibraryRow) -> Revision:
    return Revision(row.id, row.version, row.entry_count, row.imported_by, row.imported_at)


_ENTRY_COLUMNS = (
    KeywordEntryRow.entry_id,
    KeywordEntryRow.term,
    KeywordEntryRow.category,
    KeywordEntryRow.match,
    KeywordEntryRow.action,
)


async def _active(conn: AsyncConnection) -> Revision | None:
    """The newest import's revision: the active library (None before the first import)."""
    row = (
        await conn.execute(select(KeywordLibraryRow).order_by(KeywordLibraryRow.id.desc()).limit(1))
    ).first()
    return None if row is None else _revision(KeywordLibraryRow(**row._mapping))


def _entry(row: Row[tuple[str, str, str, str, str]]) -> KeywordEntry:
    entry_id, term, category, match, action = row
    return KeywordEntry(entry_id, term, category, MatchMode(match), Action(action))


class LibraryStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def head(self) -> int:
        """The newest revision's id (0: none), the cheap check of whether it changed."""
        async with self._engine.connect() as conn:
            found = await conn.scalar(select(func.max(KeywordLibraryRow.id)))
        return int(found or 0)

    async def current(self) -> tuple[Revision, KeywordLibrary]:
        """The active revision and its library (an empty one before the first import)."""
        async with self._engine.connect() as conn:
            revision = await _active(conn)
            if revision is None:
                return _NONE, _EMPTY
            rows = await conn.execute(
                select(*_ENTRY_COLUMNS)
                .where(KeywordEntryRow.library_id == revision.id)
                .order_by(KeywordEntryRow.position)
            )
            entries = [_entry(r) for r in rows]
        return revision, KeywordLibrary(entries)

    async def save(self, library: KeywordLibrary, imported_by: str) -> Revision:
        """Store ``library`` as the new active version, in one transaction."""
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    insert(KeywordLibraryRow)
                    .values(
                        version=library.version,
                        entry_count=len(library),
                        imported_by=imported_by,
                    )
                    .returning(KeywordLibraryRow)
                )
            ).one()
            revision = _revision(KeywordLibraryRow(**row._mapping))
            if library.entries:
                await conn.execute(
                    insert(KeywordEntryRow),
                    [
                        {
                            "library_id": revision.id,
                            "position": position,
                            "entry_id": e.id,
                            "term": e.term,
                            "category": e.category,
                            "match": str(e.match),
                            "action": str(e.action),
                        }
                        for position, e in enumerate(library.entries)
                    ],
                )
        return revision

    async def revisions(self, *, limit: int = 50) -> list[Revision]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(KeywordLibraryRow).order_by(KeywordLibraryRow.id.desc()).limit(limit)
            )
            return [_revision(KeywordLibraryRow(**r._mapping)) for r in rows]

    async def page(
        self, *, search: str = "", category: str = "", offset: int = 0, limit: int = 50
    ) -> EntryPage:
        """Entries of the active version, in file order; ``search`` matches id, term or
        category (substring, any case), ``category`` the category exactly."""
        async with self._engine.connect() as conn:
            revision = await _active(conn)
            if revision is None:
                return EntryPage(_NONE, 0, ())
            where = [KeywordEntryRow.library_id == revision.id]
            if search:
                pattern = (
                    "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                )
                where.append(
                    or_(
                        KeywordEntryRow.entry_id.ilike(pattern, escape="\\"),
                        KeywordEntryRow.term.ilike(pattern, escape="\\"),
                        KeywordEntryRow.category.ilike(pattern, escape="\\"),
                    )
                )
            if category:
                where.append(KeywordEntryRow.category == category)
            total = await conn.scalar(
                select(func.count()).select_from(KeywordEntryRow).where(*where)
            )
            rows = await conn.execute(
                select(*_ENTRY_COLUMNS)
                .where(*where)
                .order_by(KeywordEntryRow.position)
                .offset(offset)
                .limit(limit)
            )
            entries = tuple(_entry(r) for r in rows)
        return EntryPage(revision, int(total or 0), entries)


class ActiveLibrary:
    """The matcher of the newest stored library, rebuilt only when the revision changes."""

    def __init__(self, store: LibraryStore, *, ttl_s: float) -> None:
        self.store = store
        self._ttl_s = ttl_s
        self._revision = -1
        self._matcher: Matcher | None = None
        self._checked_at = float("-inf")
        self._lock = anyio.Lock()

    async def matcher(self) -> Matcher | None:
        """The active matcher, None for an empty library (nothing is filtered). A database
        error propagates: the caller must not serve unfiltered on a library it cannot read."""
        if time.monotonic() - self._checked_at < self._ttl_s:
            return self._matcher
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._ttl_s:
                await self.refresh()
        return self._matcher

    async def warm_up(self) -> None:
        """Load and build before the first chat, so it does not wait for the build; a
        database that cannot be read now is logged, and the first chat tries again."""
        try:
            await self.refresh()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("keyword library not loaded at start: %s", exc)

    async def refresh(self) -> None:
        """Check the revision now; reload and rebuild if it changed."""
        head = await self.store.head()
        if head != self._revision:
            revision, library = await self.store.current()
            built = await anyio.to_thread.run_sync(_build, library)
            self._matcher, self._revision = built, revision.id
        self._checked_at = time.monotonic()


def _build(library: KeywordLibrary) -> Matcher | None:
    return Matcher(library) if len(library) else None
