"""What changes when one library version replaces another, by entry id: the "before and
after" the administrator confirms before an import takes effect.

May import the modules beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.content.keywords import KeywordEntry, KeywordLibrary


@dataclass(frozen=True)
class LibraryDiff:
    """Entries only in the new library, only in the old one, and (old, new) pairs of the
    same id that differ; each sorted by id."""

    old_version: str
    new_version: str
    added: tuple[KeywordEntry, ...]
    removed: tuple[KeywordEntry, ...]
    changed: tuple[tuple[KeywordEntry, KeywordEntry], ...]

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_libraries(old: KeywordLibrary, new: KeywordLibrary) -> LibraryDiff:
    before, after = old.by_id(), new.by_id()
    return LibraryDiff(
        old.version,
        new.version,
        added=tuple(after[i] for i in sorted(after.keys() - before.keys())),
        removed=tuple(before[i] for i in sorted(before.keys() - after.keys())),
        changed=tuple(
            (before[i], after[i])
            for i in sorted(before.keys() & after.keys())
            if before[i] != after[i]
        ),
    )
