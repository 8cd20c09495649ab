"""Server-side sessions: the browser holds only a signed random id, tokens stay here.

The store lives in the web UI process's memory. Restarting the web UI therefore signs
everyone out, which is the safe direction; Keycloak's own session survives, so signing in
again is one redirect without a password prompt.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from webui.oidc import PendingLogin, TokenSet

# A sign-in must come back from Keycloak within this time.
PENDING_TTL_S = 600.0


@dataclass(frozen=True, slots=True)
class Identity:
    """The signed-in user as the gateway reports it (``GET /api/me``)."""

    subject: str
    username: str
    roles: frozenset[str]
    groups: tuple[str, ...]

    @classmethod
    def from_me(cls, me: dict[str, Any]) -> Identity:
        return cls(
            subject=str(me["subject"]),
            username=str(me["username"]),
            roles=frozenset(me.get("roles", [])),
            groups=tuple(me.get("groups", [])),
        )

    @property
    def can_chat(self) -> bool:
        return "staff" in self.roles

    @property
    def is_kb_editor(self) -> bool:
        return "kb-editor" in self.roles

    @property
    def departments(self) -> tuple[str, ...]:
        """The department groups (``/dept/...``) a knowledge base may be created for."""
        return tuple(g for g in self.groups if g.startswith("/dept/"))

    @property
    def is_auditor(self) -> bool:
        return "auditor" in self.roles

    @property
    def is_sysadmin(self) -> bool:
        return "sysadmin" in self.roles

    @property
    def is_secadmin(self) -> bool:
        return "secadmin" in self.roles

    @property
    def has_access(self) -> bool:
        """Whether the web UI has anything to offer this user."""
        return self.can_chat or self.is_auditor or self.is_sysadmin or self.is_secadmin


@dataclass(slots=True)
class Session:
    id: str
    tokens: TokenSet
    identity: Identity
    # Serialises token refreshes: Keycloak rotates refresh tokens, so two concurrent
    # refreshes with the same one would sign the user out.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class CookieSigner:
    """HMAC-SHA256 over the session id, so a forged or altered cookie is simply ignored."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, value: str) -> str:
        return hmac.new(self._key, value.encode("ascii"), hashlib.sha256).hexdigest()

    def sign(self, value: str) -> str:
        return f"{value}.{self._mac(value)}"

    def unsign(self, signed: str | None) -> str | None:
        if not signed or "." not in signed:
            return None
        value, _, mac = signed.rpartition(".")
        try:
            good = hmac.compare_digest(mac, self._mac(value))
        except (TypeError, UnicodeEncodeError):
            return None
        return value if good else None


class SessionStore:
    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._pending: dict[str, PendingLogin] = {}

    def create(self, tokens: TokenSet, identity: Identity) -> Session:
        session = Session(id=secrets.token_urlsafe(32), tokens=tokens, identity=identity)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session, or None; one whose refresh token has expired is dropped."""
        if session_id is None:
            return None
        session = self._sessions.get(session_id)
        if session is not None and session.tokens.refresh_expires_at <= time.time():
            self.drop(session_id)
            return None
        return session

    def drop(self, session_id: str) -> Session | None:
        return self._sessions.pop(session_id, None)

    def put_pending(self, pending: PendingLogin) -> None:
        cutoff = time.time() - PENDING_TTL_S
        for state in [s for s, p in self._pending.items() if p.created_at < cutoff]:
            del self._pending[state]
        self._pending[pending.state] = pending

    def pop_pending(self, state: str) -> PendingLogin | None:
        pending = self._pending.pop(state, None)
        if pending is None or pending.created_at < time.time() - PENDING_TTL_S:
            return None
        return pending
