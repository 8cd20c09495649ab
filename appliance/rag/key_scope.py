"""A personal API key's knowledge-base scope, applied inside retrieval.

A key may be limited to some knowledge bases (``kb_scope``); the gateway's key sign-in puts
their ids in the principal's ``extra["kb_scope"]`` (absent for a key without one and for a
Keycloak token). Within the department ACL and the clearance, such a principal retrieves
from those knowledge bases alone: one named outside the scope is 403
``kb_not_in_key_scope`` (the key's owner chose the scope, so it hides nothing they may not
know), and a search naming none searches the scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from appliance.auth.principal import Principal
from appliance.errors import Forbidden

SCOPE = "kb_scope"


def key_scope(principal: Principal) -> frozenset[uuid.UUID] | None:
    """The knowledge bases the principal's key may retrieve from; None: no such limit."""
    scope = principal.extra.get(SCOPE)
    if not isinstance(scope, list | tuple) or not scope:
        return None
    return frozenset(uuid.UUID(str(kb_id)) for kb_id in scope)


def scoped_kb_ids(
    principal: Principal, kb_ids: Sequence[uuid.UUID] | None
) -> Sequence[uuid.UUID] | None:
    """The knowledge bases a search may look in: ``kb_ids`` when all are in the scope (403
    ``kb_not_in_key_scope`` otherwise), the scope itself when none are named."""
    scope = key_scope(principal)
    if scope is None:
        return kb_ids
    if not kb_ids:
        return sorted(scope)
    outside = [kb_id for kb_id in kb_ids if kb_id not in scope]
    if outside:
        raise Forbidden(
            f"This API key may not retrieve from the knowledge base {outside[0]}.",
            code="kb_not_in_key_scope",
        )
    return kb_ids


def in_key_scope(principal: Principal, kb_id: uuid.UUID) -> bool:
    scope = key_scope(principal)
    return scope is None or kb_id in scope
