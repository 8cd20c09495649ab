"""Schemathesis hooks for the hostile-input scenario (loaded by ``st run`` through
``SCHEMATHESIS_HOOKS``): they mix real identifiers into the generated cases.

Purely random model names and ids are all answered 404 before any real work happens. So
some generated chat and embedding bodies name the served models, and some generated paths
name a throwaway knowledge base and its document (created for the run, deletable by it),
which takes the cases past the 404 into validation, admission, retrieval and the stub
backend. The identifiers come from the environment the test sets.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import schemathesis
from hypothesis import strategies as st

_MODELS = {
    "/v1/chat/completions": os.environ.get("CHAOS_ST_CHAT_MODEL", ""),
    "/v1/embeddings": os.environ.get("CHAOS_ST_EMBEDDING_MODEL", ""),
}
_IDS = {
    "kb_id": os.environ.get("CHAOS_ST_KB_ID", ""),
    "document_id": os.environ.get("CHAOS_ST_DOCUMENT_ID", ""),
}


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@schemathesis.hook
def flatmap_body(context: Any, body: Any) -> Any:
    model = _MODELS.get(context.operation.path) if context.operation else None
    # Only a body that already has a model gets the real one: adding the field to a body
    # generated without it (a negative case) would turn it into a valid request.
    if not model or not isinstance(body, dict) or "model" not in body:
        return st.just(body)
    return st.sampled_from([body, {**body, "model": model}])


@schemathesis.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    # Only well-formed generated ids are swapped, for the same reason as above.
    real = {k: v for k, v in _IDS.items() if v and _is_uuid((path_parameters or {}).get(k))}
    if not real:
        return st.just(path_parameters)
    return st.sampled_from([path_parameters, {**path_parameters, **real}])
