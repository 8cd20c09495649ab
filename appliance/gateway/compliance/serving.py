"""Gathering the sections of the compliance export, each from where the appliance keeps it.

Keycloak's admin calls block, so the account inventory is read in a worker thread; each
account's last sign-in comes from the realm's LOGIN events (``appliance.identity.sign_ins``),
and ``last_sign_in_source`` says whether it is such an event or only an open session. The
assessment reports are read by SQL from their table when it exists (``appliance assess``
writes it); a database without it, or with no report in it, says no assessment is recorded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute

from appliance.audit.stats import event_counts, retention_status
from appliance.content.store import LibraryStore
from appliance.gateway.compliance.permissions import matrix
from appliance.gateway.state import GatewayState
from appliance.identity.directory import Directory
from appliance.settings import KeycloakSettings

_HAS_ASSESSMENTS = text("SELECT to_regclass('assessment_reports') IS NOT NULL")
_LAST_ASSESSMENT = text(
    "SELECT id, created_at, submitted_by, client_id, model, passed, "
    "should_refuse_refusal_rate, should_answer_refusal_rate, generated_content_pass_rate, "
    "report FROM assessment_reports ORDER BY id DESC LIMIT 1"
)


def _accounts(keycloak: KeycloakSettings) -> dict[str, Any]:
    directory = Directory.connect(keycloak)
    people = directory.list_users()
    sign_ins = directory.last_sign_ins([user.id for user in people])
    users = []
    for user in people:
        signed_in = sign_ins.get(user.id)
        users.append(
            {
                "username": user.username,
                "name": user.name,
                "enabled": user.enabled,
                "roles": user.roles,
                "departments": user.departments,
                "created": None if user.created is None else user.created.isoformat(),
                "last_sign_in": None if signed_in is None else signed_in.at.isoformat(),
                "last_sign_in_source": None if signed_in is None else signed_in.source,
            }
        )
    return {
        "source": (
            "Keycloak realm users; last_sign_in: the newest stored LOGIN event"
            " (last_sign_in_source event), else the start of the newest open session"
            " (session), null with neither"
        ),
        "users": users,
    }


async def _keyword_library(engine: AsyncEngine) -> dict[str, Any]:
    revisions = await LibraryStore(engine).revisions(limit=1)
    if not revisions:
        return {"imported": False, "version": None}
    active = revisions[0]
    return {
        "imported": True,
        "revision": active.id,
        "version": active.version,
        "entries": active.entry_count,
        "imported_by": active.imported_by,
        "imported_at": None if active.imported_at is None else active.imported_at.isoformat(),
    }


async def _assessment(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as conn:
        exists = bool(await conn.scalar(_HAS_ASSESSMENTS))
        row = (await conn.execute(_LAST_ASSESSMENT)).mappings().first() if exists else None
    if row is None:
        return {"recorded": False, "message": "no assessment is recorded"}
    found = dict(row)
    found["created_at"] = found["created_at"].isoformat()
    return {"recorded": True, **found}


async def sections(state: GatewayState, routes: Iterable[BaseRoute]) -> dict[str, dict[str, Any]]:
    """Every section of the export, by file name."""
    accounts = await asyncio.to_thread(_accounts, state.settings.keycloak)
    return {
        "accounts": accounts,
        "permissions": matrix(routes),
        "audit_statistics": {"by_month": await event_counts(state.engine)},
        "retention": await retention_status(state.engine, state.settings.audit.retention_days),
        "keyword_library": await _keyword_library(state.engine),
        "assessment": await _assessment(state.engine),
    }
