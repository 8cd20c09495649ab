"""The demo users start every test session with their daily token quota unspent.

A quota is summed per token subject from today's ``chat.end`` audit rows
(:mod:`appliance.gateway.quota`), and audit rows are never deleted: on a machine whose local
appliance has served a day of use, chats as a demo user would be refused with 429
``daily_quota_exceeded`` and tests would fail for reasons of their own. So before the first
token is handed out, each demo user who may chat (role ``staff``) and used any tokens today
is renewed in Keycloak: deleted and created again with the same username, password, roles
and departments (:func:`appliance.runtime.keycloak_service.renew_demo_user`). The new account
is a new subject with nothing used; the audit log keeps every old row. Tests that assert on
quotas start gateways with quotas of their own (``limits__daily_token_quota``), so nothing
is raised to make them pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from appliance.audit.usage_query import tokens_used_since
from appliance.db.session import create_engine
from appliance.gateway.quota.admission import start_of_day
from appliance.runtime import keycloak_service
from appliance.runtime.paths import RuntimePaths

CHATTING_ROLE = "staff"


async def _used_today(database_url: str, subjects: Sequence[str]) -> list[int]:
    engine = create_engine(database_url)
    try:
        since = start_of_day()
        return [await tokens_used_since(engine, subject, since) for subject in subjects]
    finally:
        await engine.dispose()


def renew_spent_demo_users(endpoints: Mapping[str, Any]) -> list[str]:
    """Renew every chatting demo user who used tokens today (or is missing); returns their
    usernames. Reads usage the way the gateway does, as the gateway's database role."""
    paths = RuntimePaths.default()
    chatting = [u["username"] for u in endpoints["users"] if CHATTING_ROLE in u["roles"]]
    subjects = {name: keycloak_service.demo_user_id(paths, name) for name in chatting}
    present = [name for name in chatting if subjects[name] is not None]
    used = asyncio.run(
        _used_today(str(endpoints["database_url"]), [str(subjects[name]) for name in present])
    )
    spent = {name for name, tokens in zip(present, used, strict=True) if tokens > 0}
    renewed = [name for name in chatting if subjects[name] is None or name in spent]
    for name in renewed:
        keycloak_service.renew_demo_user(paths, name)
    return renewed
