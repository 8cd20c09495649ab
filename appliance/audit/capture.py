"""Turning an ``AuditEvent`` into a row to store, under the configured capture mode.

- ``full`` keeps the text; ``redacted`` masks personal data that PIPL (个人信息保护法) treats
  as sensitive and that staff paste into prompts most often: mainland mobile numbers,
  18-digit resident ID numbers, bank card numbers and e-mail addresses; ``hash`` keeps none
  of the text. The SHA-256 of the raw prompt and response is stored in every mode, so an
  auditor holding a disputed text can still prove whether it was the one sent.
- Text is cleaned of NUL characters, which PostgreSQL's ``text`` rejects: one user's odd
  prompt must never fail the whole group-committed batch it travels in.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from appliance.audit.events import AuditEvent
from appliance.settings import CaptureMode

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
_BANK_CARD = re.compile(r"(?<![0-9])[0-9]{4}(?:[ -]?[0-9]{4}){2,3}(?:[ -]?[0-9]{1,3})?(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])")
# Order matters: an ID number would otherwise also look like a card number.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_EMAIL, "[email]"),
    (_RESIDENT_ID, "[id-number]"),
    (_BANK_CARD, "[bank-card]"),
    (_MOBILE, "[mobile]"),
)


def redact(text: str) -> str:
    """Mask mobile numbers, resident ID numbers, bank card numbers and e-mail addresses."""
    for pattern, mask in _PATTERNS:
        text = pattern.sub(mask, text)
    return text


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _clean(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def _captured(text: str | None, mode: CaptureMode) -> str | None:
    if text is None or mode is CaptureMode.HASH:
        return None
    text = _clean(text)
    return redact(text) if mode is CaptureMode.REDACTED else text


def clean_json(value: Any) -> Any:
    """A value ``jsonb`` accepts: no NULs, no NaN/Infinity, unknown objects as strings."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _clean(value)
    if isinstance(value, Mapping):
        return {_clean(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [clean_json(v) for v in value]
    return _clean(str(value))


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def event_to_row(event: AuditEvent, *, mode: CaptureMode, writer_id: str) -> dict[str, Any]:
    """Column values of ``event`` as stored; chain fields are added when it is sealed."""
    actor = event.actor
    return {
        "request_id": _clean(event.request_id),
        "event_type": str(event.event_type),
        "outcome": str(event.outcome),
        "actor_subject": _clean(actor.subject),
        "actor_username": _clean(actor.username),
        "actor_roles": [_clean(r) for r in actor.roles],
        "actor_groups": [_clean(g) for g in actor.groups],
        "client_id": _clean(actor.client_id),
        "client_ip": _clean(event.client_ip),
        "user_agent": _clean(event.user_agent),
        "http_status": event.http_status,
        "model": None if event.model is None else _clean(event.model),
        "backend": None if event.backend is None else _clean(event.backend),
        "prompt_tokens": event.prompt_tokens,
        "completion_tokens": event.completion_tokens,
        "latency_ms": _float(event.latency_ms),
        "ttft_ms": _float(event.ttft_ms),
        "document_ids": [_clean(d) for d in event.document_ids],
        "chunk_ids": [_clean(c) for c in event.chunk_ids],
        "prompt": _captured(event.prompt, mode),
        "reasoning": _captured(event.reasoning, mode),
        "response": _captured(event.response, mode),
        "prompt_sha256": None if event.prompt is None else sha256_hex(event.prompt),
        "response_sha256": None if event.response is None else sha256_hex(event.response),
        "capture_mode": str(mode),
        "detail": clean_json(event.detail),
        "writer_id": writer_id,
    }
