"""Who is calling: the identity the gateway derives from a verified access token."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Realm roles. The three administrators are separate (三员分立)."""

    STAFF = "staff"
    KB_EDITOR = "kb-editor"
    SYSADMIN = "sysadmin"
    SECADMIN = "secadmin"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    username: str
    roles: frozenset[str]
    groups: frozenset[str]
    client_id: str = ""
    session_id: str = ""
    token_id: str = ""
    expires_at: int = 0
    email: str = ""
    # The data grade the caller may read up to, as the token's ``clearance`` claim names it
    # (a name of ``rag.grades``); empty when the token has none, which means the lowest.
    clearance: str = ""
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)

    def has_role(self, role: Role) -> bool:
        return role.value in self.roles

    @property
    def departments(self) -> frozenset[str]:
        """Department groups (``/dept/...``) the caller belongs to."""
        return frozenset(g for g in self.groups if g.startswith("/dept/"))
