"""Schemathesis hooks for the hostile-input scenario (loaded by ``st run`` through
``SCHEMATHESIS_HOOKS``): they mix real identifiers into the generated cases.

Purely random model names and ids are all answered 404 before any real work happens. So
some generated chat and embedding bodies name the served models, and some generated paths
name a throwaway knowledge base and its document, or a throwaway conversation (created for
the run, deletable by it), which takes the cases past the 404 into validation, admission,
retrieval and the stub backend. The identifiers come from the environment the test sets.

schemathesis also reuses ids it saw in responses (``GET /api/kb`` lists the shared demo
knowledge bases other tests rely on). A request that would change a knowledge base
(delete it, upload into it, delete or re-index its documents) is therefore sent only for
the throwaway one or one this run created; any other id is swapped for one that names
nothing, so the request still runs (and is answered 404) without touching shared data.
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
    "conversation_id": os.environ.get("CHAOS_ST_CONVERSATION_ID", ""),
}
_MUTATING = {
    ("DELETE", "/api/kb/{kb_id}"),
    ("POST", "/api/kb/{kb_id}/documents"),
    ("DELETE", "/api/kb/{kb_id}/documents/{document_id}"),
    ("POST", "/api/kb/{kb_id}/documents/{document_id}/reindex"),
}
# Knowledge bases this run may change: the throwaway one, and those it creates.
OWN_KB_IDS = {_IDS["kb_id"]} - {""}
# Conversations are the caller's own, but the caller may have some from other tests: a
# change is sent only for the throwaway conversation or one this run created.
_CONVERSATION_CHANGES = {
    ("PATCH", "/api/conversations/{conversation_id}"),
    ("DELETE", "/api/conversations/{conversation_id}"),
    ("POST", "/api/conversations/{conversation_id}/messages"),
    ("DELETE", "/api/conversations/{conversation_id}/last-answer"),
}
OWN_CONVERSATION_IDS = {_IDS["conversation_id"]} - {""}


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


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    created = {"/api/kb": OWN_KB_IDS, "/api/conversations": OWN_CONVERSATION_IDS}
    own = created.get(case.operation.path)
    if own is not None and case.method.upper() == "POST" and response.status_code == 201:
        own.add(str(response.json()["id"]))


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    operation = (case.method.upper(), case.operation.path)
    if operation in _CONVERSATION_CHANGES:
        conversation_id = str((case.path_parameters or {}).get("conversation_id"))
        if _is_uuid(conversation_id) and conversation_id not in OWN_CONVERSATION_IDS:
            swapped = str(uuid.uuid5(uuid.NAMESPACE_URL, conversation_id))
            case.path_parameters["conversation_id"] = swapped
        return
    if operation not in _MUTATING:
        return
    kb_id = str((case.path_parameters or {}).get("kb_id"))
    if _is_uuid(kb_id) and kb_id not in OWN_KB_IDS:
        case.path_parameters["kb_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, kb_id))
