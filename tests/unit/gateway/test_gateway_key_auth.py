"""Signing in with a key, against an in-memory key row and owner account: what the
principal holds, and each refusal (revoked, expired, disabled owner, repeated failures,
no pepper)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pydantic import SecretStr

from appliance.apikeys import keys
from appliance.apikeys.models import ApiKeyRow
from appliance.errors import RateLimited, ServiceUnavailable, Unauthenticated
from appliance.gateway.keys.accounts import Account, AccountCheck
from appliance.gateway.keys.auth import KeyAuthenticator
from appliance.settings import ApiKeySettings, KeycloakSettings

PEPPER = "unit-pepper"


@dataclass
class FakeStore:
    rows: dict[str, ApiKeyRow] = field(default_factory=dict)
    touched: list[uuid.UUID] = field(default_factory=list)

    async def by_prefix(self, prefix: str) -> ApiKeyRow | None:
        return self.rows.get(prefix)

    async def touch(self, row: ApiKeyRow, now: datetime) -> None:
        self.touched.append(row.id)


@dataclass
class FakeAccounts:
    account_now: Account

    async def account(self, username: str) -> Account:
        return self.account_now


def _setup(
    *, enabled: bool = True, roles: frozenset[str] = frozenset({"staff"}), pepper: str = PEPPER
) -> tuple[KeyAuthenticator, FakeStore, str, ApiKeyRow]:
    key = keys.new_key()
    row = ApiKeyRow(
        id=uuid.uuid4(),
        owner_subject="sub-1",
        owner_username="zhang.wei",
        name="n",
        prefix=keys.prefix_of(key),
        key_hash=keys.key_hash(key, PEPPER.encode()),
        roles=["kb-editor", "staff"],
        groups=["/dept/finance"],
        clearance="internal",
        model_scope=["m1"],
        allowed_cidrs=None,
        expires_at=datetime.now(UTC) + timedelta(days=1),
        revoked_at=None,
        last_used_at=None,
    )
    store = FakeStore({row.prefix: row})
    accounts = FakeAccounts(Account(enabled, roles, frozenset({"/dept/legal"})))
    settings = ApiKeySettings(
        pepper=SecretStr(pepper), failed_attempts_limit=3, failed_attempts_window_s=60
    )
    auth = KeyAuthenticator(settings, cast(Any, store), cast(AccountCheck, accounts))
    return auth, store, key, row


async def test_a_key_stands_for_its_owner_with_the_roles_they_still_hold() -> None:
    auth, store, key, row = _setup()
    principal = await auth.authenticate(key, "127.0.0.1")
    assert principal.username == "zhang.wei" and principal.subject == "sub-1"
    assert principal.roles == frozenset({"staff"})
    assert principal.groups == frozenset({"/dept/legal"})
    assert principal.clearance == "internal"
    assert principal.client_id == f"apikey:{row.id}"
    assert principal.extra["model_scope"] == ["m1"]
    assert "kb_scope" not in principal.extra
    assert store.touched == [row.id]


async def test_a_key_with_a_knowledge_base_scope_hands_it_to_retrieval() -> None:
    auth, _, key, row = _setup()
    kb_id = uuid.uuid4()
    row.kb_scope = [kb_id]
    principal = await auth.authenticate(key, "127.0.0.1")
    assert principal.extra["kb_scope"] == [str(kb_id)]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"revoked_at": datetime.now(UTC)}, "api_key_revoked"),
        ({"expires_at": datetime.now(UTC) - timedelta(seconds=1)}, "api_key_expired"),
        ({"allowed_cidrs": ["10.0.0.0/8"]}, "api_key_address"),
    ],
)
async def test_revoked_expired_and_foreign_address_keys_are_refused(
    change: dict[str, object], code: str
) -> None:
    auth, _, key, row = _setup()
    for name, value in change.items():
        setattr(row, name, value)
    with pytest.raises(Unauthenticated) as raised:
        await auth.authenticate(key, "127.0.0.1")
    assert raised.value.code == code
    assert key not in raised.value.message


async def test_a_disabled_owner_disables_the_key() -> None:
    auth, _, key, _ = _setup(enabled=False)
    with pytest.raises(Unauthenticated) as raised:
        await auth.authenticate(key, "127.0.0.1")
    assert raised.value.code == "api_key_owner_disabled"


async def test_repeated_failures_from_one_address_are_held_off() -> None:
    auth, _, key, _ = _setup()
    wrong = keys.prefix_of(key) + "A" * (len(key) - keys.PREFIX_LENGTH)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await auth.authenticate(wrong, "10.9.9.9")
    with pytest.raises(RateLimited) as raised:
        await auth.authenticate(key, "10.9.9.9")
    assert raised.value.code == "too_many_key_failures"
    assert (await auth.authenticate(key, "10.9.9.8")).username == "zhang.wei"


async def test_without_a_pepper_keys_answer_503() -> None:
    auth, _, key, _ = _setup(pepper="")
    with pytest.raises(ServiceUnavailable) as raised:
        await auth.authenticate(key, "127.0.0.1")
    assert raised.value.code == "api_keys_disabled"


class FakeDirectoryCheck(AccountCheck):
    def __init__(self, clock: list[float]) -> None:
        super().__init__(KeycloakSettings(), 60.0, clock=lambda: clock[0])
        self.reads = 0
        self.enabled = True

    def _read(self, username: str) -> Account:
        self.reads += 1
        return Account(self.enabled, frozenset({"staff"}), frozenset())


async def test_the_owner_account_is_read_again_once_the_interval_passed() -> None:
    clock = [0.0]
    check = FakeDirectoryCheck(clock)
    assert (await check.account("zhang.wei")).enabled
    check.enabled = False
    clock[0] = 59.0
    assert (await check.account("zhang.wei")).enabled
    assert check.reads == 1
    clock[0] = 60.0
    assert not (await check.account("zhang.wei")).enabled
    assert check.reads == 2
