"""Who may read and who may manage a knowledge base, from the caller's group paths.

Groups are Keycloak paths. A knowledge base owned by ``/dept/finance`` is readable by
members of ``/dept/finance`` and of every group below it (``/dept/finance/tax``): the
caller's paths plus all their ancestors are matched against the owner in SQL, so the check
travels inside the query that returns chunks. Organisation-wide knowledge bases (no owner)
are readable by every reader. Within those, the caller reads only chunks whose data grade is
within their clearance (``access``), a second predicate of the same query.
"""

from __future__ import annotations

from collections.abc import Sequence

from appliance.auth.principal import Principal, Role
from appliance.errors import Forbidden, InvalidRequest
from appliance.rag.grades import clearance_level
from appliance.rag.retrieve import Access

READER_ROLES = frozenset({Role.STAFF.value, Role.KB_EDITOR.value})


def ancestor_paths(groups: frozenset[str]) -> list[str]:
    """Each group path and all its ancestors: ``/dept/finance/tax`` gives three paths."""
    paths: set[str] = set()
    for group in groups:
        parts = [p for p in group.split("/") if p]
        for depth in range(1, len(parts) + 1):
            paths.add("/" + "/".join(parts[:depth]))
    return sorted(paths)


def readable_paths(principal: Principal) -> list[str]:
    """The owner groups whose knowledge bases the caller may read (besides org-wide ones)."""
    return ancestor_paths(principal.groups)


def access(principal: Principal, grades: Sequence[str]) -> Access:
    """The owner groups and the highest grade level the caller's chunk queries may return."""
    return Access(readable_paths(principal), clearance_level(principal.clearance, grades))


def require_reader(principal: Principal) -> None:
    if not READER_ROLES & principal.roles:
        raise Forbidden("Searching knowledge bases needs the staff role.")


def normalise_group(group: str | None) -> str | None:
    """``/dept/finance/`` and ``dept/finance`` both mean ``/dept/finance``; ``None`` stays."""
    if group is None:
        return None
    parts = [p for p in group.strip().split("/") if p]
    if not parts:
        raise InvalidRequest("A group path such as /dept/finance is required.")
    return "/" + "/".join(parts)


def can_manage(principal: Principal, owner_group: str | None) -> bool:
    """A kb-editor manages the knowledge bases of the groups they are a member of.

    Membership must be direct: an editor of ``/dept/finance/tax`` may read the knowledge
    bases of ``/dept/finance`` but not change them, and an editor of ``/dept/finance`` does
    not manage (or read) those of its subgroups. Organisation-wide knowledge bases are
    managed by any kb-editor: there is no department to scope them to, and every change is
    audited.
    """
    if not principal.has_role(Role.KB_EDITOR):
        return False
    return owner_group is None or owner_group in principal.groups
