"""A key owner's current Keycloak account, read through the accounts client and cached per
worker for ``api_keys.account_recheck_s``: a disabled account, or a role taken away, stops
the owner's keys within that interval without a Keycloak call per request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from appliance.errors import NotFound
from appliance.identity.directory import Directory
from appliance.settings import KeycloakSettings


@dataclass(frozen=True, slots=True)
class Account:
    enabled: bool
    roles: frozenset[str]
    departments: frozenset[str]


MISSING = Account(enabled=False, roles=frozenset(), departments=frozenset())


class AccountCheck:
    def __init__(
        self,
        keycloak: KeycloakSettings,
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keycloak = keycloak
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, Account]] = {}
        self._directory: Directory | None = None
        self._lock = asyncio.Lock()

    def _read(self, username: str) -> Account:
        if self._directory is None:
            self._directory = Directory.connect(self._keycloak)
        try:
            user = self._directory.get_user(username)
        except NotFound:
            return MISSING
        return Account(user.enabled, frozenset(user.roles), frozenset(user.departments))

    async def account(self, username: str) -> Account:
        """The account as last read, if that was within the interval; else read it now
        (503 when Keycloak cannot answer: a key is not trusted on stale roles)."""
        cached = self._cache.get(username)
        if cached is not None and self._clock() - cached[0] < self._ttl_s:
            return cached[1]
        async with self._lock:
            cached = self._cache.get(username)
            if cached is not None and self._clock() - cached[0] < self._ttl_s:
                return cached[1]
            account = await asyncio.to_thread(self._read, username)
            self._cache[username] = (self._clock(), account)
            return account
