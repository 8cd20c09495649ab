"""An API key's knowledge-base scope inside retrieval: a search in the scope, a named
knowledge base outside it 403, no scope no limit."""

from __future__ import annotations

import uuid

import pytest

from appliance.auth.principal import Principal
from appliance.errors import Forbidden
from appliance.rag.key_scope import in_key_scope, scoped_kb_ids

IN, ALSO_IN, OUT = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def _principal(**extra: object) -> Principal:
    return Principal(
        subject="s", username="u", roles=frozenset({"staff"}), groups=frozenset(), extra=extra
    )


def test_without_a_scope_nothing_changes() -> None:
    for principal in (_principal(), _principal(kb_scope=[])):
        assert scoped_kb_ids(principal, None) is None
        assert scoped_kb_ids(principal, [OUT]) == [OUT]
        assert in_key_scope(principal, OUT)


def test_a_scoped_key_searches_its_knowledge_bases_alone() -> None:
    keyed = _principal(kb_scope=[str(IN), str(ALSO_IN)])
    assert scoped_kb_ids(keyed, None) == sorted([IN, ALSO_IN])
    assert scoped_kb_ids(keyed, []) == sorted([IN, ALSO_IN])
    assert scoped_kb_ids(keyed, [IN]) == [IN]
    with pytest.raises(Forbidden) as refused:
        scoped_kb_ids(keyed, [IN, OUT])
    assert refused.value.code == "kb_not_in_key_scope" and str(OUT) in str(refused.value)
    assert in_key_scope(keyed, IN) and not in_key_scope(keyed, OUT)
