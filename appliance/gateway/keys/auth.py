"""Signing in with an API key: from the bearer string to the owner's :class:`Principal`.

Every request reads the key's row by its prefix (so a revocation holds on every worker at
once), compares the peppered hash in constant time, checks expiry, revocation and the
address allow-list, then the owner's account (:mod:`.accounts`). The principal has the
roles the key was made with that the owner still holds, the owner's current departments,
the clearance of the owner's token at creation, and ``client_id`` ``apikey:<key id>``,
which every audit row of the request records. Failures count against the source address
(:class:`~appliance.apikeys.limiter.FailureLimiter`); no message names the key.

A service key (``api_keys.service``) has no Keycloak account to re-check: its principal is
``svc:<integration>`` with the staff role alone (chat; never an administrator's API), the
departments and clearance the sysadmin gave the key, and ``service`` in ``extra``. Its own
daily token quota is read from the audit log (the ``chat.end`` tokens of ``svc:<name>``
since local midnight, the same sum the per-user quota reads) on each of its requests:
used up, the key gets 429 ``quota_exceeded`` until midnight while everyone else chats on.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from appliance.apikeys import keys
from appliance.apikeys.limiter import FailureLimiter
from appliance.apikeys.models import ApiKeyRow
from appliance.apikeys.policy import address_allowed
from appliance.apikeys.store import KeyStore
from appliance.auth.principal import Principal, Role
from appliance.errors import RateLimited, ServiceUnavailable, Unauthenticated
from appliance.gateway.keys.accounts import AccountCheck
from appliance.gateway.quota.admission import UsageLoader, seconds_until_tomorrow, start_of_day
from appliance.gateway.quota.usage import usage_loader
from appliance.settings import ApiKeySettings

CLIENT_PREFIX = "apikey:"


def disabled() -> ServiceUnavailable:
    return ServiceUnavailable(
        "API keys are not enabled on this gateway: it has no api_keys.pepper.",
        code="api_keys_disabled",
        retry_after_s=3600,
    )


def is_keyed(principal: Principal) -> bool:
    return principal.client_id.startswith(CLIENT_PREFIX)


class KeyAuthenticator:
    def __init__(
        self,
        settings: ApiKeySettings,
        store: KeyStore,
        accounts: AccountCheck,
        *,
        usage: UsageLoader | None = None,
    ) -> None:
        self._pepper = settings.pepper.get_secret_value().encode("utf-8")
        self._store = store
        self._accounts = accounts
        # Made at a service key's first use: personal keys never read usage here.
        self._usage = usage
        self._limiter = FailureLimiter(
            settings.failed_attempts_limit, settings.failed_attempts_window_s
        )

    @property
    def enabled(self) -> bool:
        return bool(self._pepper)

    @property
    def pepper(self) -> bytes:
        if not self._pepper:
            raise disabled()
        return self._pepper

    def _refuse(self, client_ip: str, message: str, code: str) -> Unauthenticated:
        self._limiter.failed(client_ip)
        return Unauthenticated(message, code=code)

    async def authenticate(self, key: str, client_ip: str) -> Principal:
        pepper = self.pepper
        wait = self._limiter.retry_after(client_ip)
        if wait > 0:
            raise RateLimited(
                "Too many failed API key attempts from this address; try again later.",
                retry_after_s=math.ceil(wait),
                code="too_many_key_failures",
            )
        invalid = "The API key is invalid, expired or revoked."
        if not keys.is_well_formed(key):
            raise self._refuse(client_ip, invalid, "invalid_api_key")
        row = await self._store.by_prefix(keys.prefix_of(key))
        if row is None or not keys.matches(key, row.key_hash, pepper):
            raise self._refuse(client_ip, invalid, "invalid_api_key")
        now = datetime.now(UTC)
        if row.revoked_at is not None:
            raise self._refuse(client_ip, invalid, "api_key_revoked")
        if row.expires_at <= now:
            raise self._refuse(client_ip, invalid, "api_key_expired")
        if not address_allowed(client_ip, row.allowed_cidrs or ()):
            raise self._refuse(
                client_ip, "The API key may not be used from this address.", "api_key_address"
            )
        if row.service:
            await self._within_quota(row)
            await self._store.touch(row, now)
            return self._principal(
                row,
                roles=frozenset(row.roles) & {Role.STAFF.value},
                groups=frozenset(row.groups),
                service=row.owner_username,
            )
        account = await self._accounts.account(row.owner_username)
        if not account.enabled:
            raise Unauthenticated(
                "The API key's owner account is disabled.", code="api_key_owner_disabled"
            )
        await self._store.touch(row, now)
        return self._principal(
            row, roles=frozenset(row.roles) & account.roles, groups=account.departments
        )

    async def _within_quota(self, row: ApiKeyRow) -> None:
        """429 ``quota_exceeded`` once the service key's owner used its daily tokens."""
        quota = row.daily_token_quota or 0
        if self._usage is None:
            self._usage = usage_loader(self._store.engine)
        if await self._usage(row.owner_subject, start_of_day()) >= quota:
            raise RateLimited(
                f"The daily token quota of {quota} of the service key's integration is used"
                " up; it resets at midnight.",
                retry_after_s=seconds_until_tomorrow(),
                code="quota_exceeded",
            )

    @staticmethod
    def _principal(
        row: ApiKeyRow, *, roles: frozenset[str], groups: frozenset[str], service: str = ""
    ) -> Principal:
        return Principal(
            subject=row.owner_subject,
            username=row.owner_username,
            roles=roles,
            groups=groups,
            client_id=f"{CLIENT_PREFIX}{row.id}",
            token_id=str(row.id),
            expires_at=int(row.expires_at.timestamp()),
            clearance=row.clearance,
            extra={
                "api_key_id": str(row.id),
                "model_scope": list(row.model_scope or ()),
                # Read by retrieval (appliance.rag.key_scope); absent: no limit.
                **({"kb_scope": [str(kb) for kb in row.kb_scope]} if row.kb_scope else {}),
                **({"service": service} if service else {}),
            },
        )
