"""Service keys, against an in-memory key row and usage: the principal a service key stands
for (``svc:<integration>``, staff alone, the key's departments and clearance, no account
read), its own daily quota (429 ``quota_exceeded``), and what a new one must pass."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pydantic import SecretStr

from appliance.apikeys import keys
from appliance.apikeys.key_policy import KeyPolicy
from appliance.apikeys.models import ApiKeyRow
from appliance.apikeys.schemas import NewServiceKey
from appliance.apikeys.store import service_owner
from appliance.errors import ApplianceError, RateLimited
from appliance.gateway.keys.accounts import AccountCheck
from appliance.gateway.keys.auth import KeyAuthenticator
from appliance.gateway.keys.service import check_service_key
from appliance.settings import ApiKeySettings

PEPPER = "unit-pepper"
GRADES = ["一般", "重要", "核心"]


@dataclass
class FakeStore:
    rows: dict[str, ApiKeyRow] = field(default_factory=dict)

    async def by_prefix(self, prefix: str) -> ApiKeyRow | None:
        return self.rows.get(prefix)

    async def touch(self, row: ApiKeyRow, now: datetime) -> None:
        return None


class NoAccounts:
    async def account(self, username: str) -> None:
        raise AssertionError("a service key has no Keycloak account to read")


def _setup(used: int, quota: int = 100) -> tuple[KeyAuthenticator, str, ApiKeyRow, list[str]]:
    key = keys.new_key()
    owner = service_owner(
        "erp-bridge",
        departments=["/dept/finance"],
        clearance="重要",
        quota=quota,
        created_by="chen.jie",
    )
    row = ApiKeyRow(
        id=uuid.uuid4(),
        owner_subject=owner.subject,
        owner_username=owner.username,
        name="ERP",
        prefix=keys.prefix_of(key),
        key_hash=keys.key_hash(key, PEPPER.encode()),
        roles=list(owner.roles),
        groups=list(owner.groups),
        clearance=owner.clearance,
        model_scope=None,
        allowed_cidrs=None,
        expires_at=datetime.now(UTC) + timedelta(days=1),
        revoked_at=None,
        last_used_at=None,
        service=True,
        daily_token_quota=owner.daily_token_quota,
    )
    asked: list[str] = []

    async def usage(subject: str, since: datetime) -> int:
        asked.append(subject)
        return used

    auth = KeyAuthenticator(
        ApiKeySettings(pepper=SecretStr(PEPPER)),
        cast(Any, FakeStore({row.prefix: row})),
        cast(AccountCheck, NoAccounts()),
        usage=usage,
    )
    return auth, key, row, asked


async def test_a_service_key_stands_for_its_integration_as_staff() -> None:
    auth, key, row, asked = _setup(used=99)
    principal = await auth.authenticate(key, "127.0.0.1")
    assert (principal.subject, principal.username) == ("svc:erp-bridge", "svc:erp-bridge")
    assert principal.roles == frozenset({"staff"})
    assert principal.groups == frozenset({"/dept/finance"})
    assert principal.clearance == "重要"
    assert principal.client_id == f"apikey:{row.id}"
    assert principal.extra["service"] == "svc:erp-bridge"
    assert asked == ["svc:erp-bridge"]


async def test_a_service_key_keeps_only_the_staff_role() -> None:
    auth, key, row, _ = _setup(used=0)
    row.roles = ["staff", "sysadmin"]
    assert (await auth.authenticate(key, "127.0.0.1")).roles == frozenset({"staff"})


async def test_a_used_up_quota_is_429_quota_exceeded() -> None:
    auth, key, _, _ = _setup(used=100)
    with pytest.raises(RateLimited) as refused:
        await auth.authenticate(key, "127.0.0.1")
    assert refused.value.code == "quota_exceeded" and refused.value.retry_after_s >= 1


def _body(**fields: Any) -> NewServiceKey:
    return NewServiceKey.model_validate(
        {"integration": "erp-bridge", "name": "ERP", "daily_token_quota": 10, **fields}
    )


@pytest.mark.parametrize(
    ("service_keys", "fields", "code"),
    [
        (False, {}, "service_keys_disabled"),
        (True, {"departments": ["finance"]}, "invalid_value"),
        (True, {"clearance": "绝密"}, "unknown_grade"),
        (True, {"expires_in_days": 31}, "api_key_policy_max_days"),
    ],
)
def test_a_new_service_key_is_refused_outside_the_policy(
    service_keys: bool, fields: dict[str, Any], code: str
) -> None:
    policy = KeyPolicy(creators="staff", max_days=30, service_keys=service_keys)
    with pytest.raises(ApplianceError) as refused:
        check_service_key(policy, _body(**fields), GRADES)
    assert refused.value.code == code


def test_a_new_service_key_within_the_policy_passes() -> None:
    policy = KeyPolicy(creators="staff", max_days=30, service_keys=True)
    body = _body(departments=["/dept/finance"], clearance="核心", expires_in_days=30)
    check_service_key(policy, body, GRADES)
