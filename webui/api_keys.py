"""Personal API keys as the web UI shows them: the pure rules of the keys tab
(``webui.ui_keys``): a key's state, its row in the table (its model and knowledge-base
scopes included), what the create form sends, and a refusal in the user's language.

The calls themselves are ``GatewayClient``'s (``api_keys``, ``create_api_key``,
``revoke_api_key``, ``model_ids``, ``knowledge_bases``), with the user's own token, so a
refusal is the same ``GatewayError`` as any other call's. Nothing here sees the key the
gateway returns on creation.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webui.gateway_client import GatewayError
from webui.i18n import Lang, known, t

# The gateway tells a user neither the secadmin's policy (its longest lifetime included) nor
# the site's default, so the form proposes the site default's shipped value.
DEFAULT_DAYS = 90
# The gateway's limits on a new key (``appliance.apikeys.schemas.NewKey``).
NAME_MAX = 100
LIST_MAX = 50
# The columns of the table, in order (i18n keys).
COLUMNS = (
    "key_col_name",
    "key_col_prefix",
    "key_col_state",
    "key_col_created",
    "key_col_expires",
    "key_col_last_used",
    "key_col_models",
    "key_col_cidrs",
    "key_col_kb_scope",
)


class FormError(ValueError):
    """The create form is wrong; ``key`` and ``values`` are the i18n message saying how."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True, slots=True)
class NewKeyForm:
    """What the create form sends: ``POST /api/keys``'s body."""

    name: str
    days: int
    models: tuple[str, ...]
    cidrs: tuple[str, ...]
    kb_scope: tuple[str, ...] = ()

    def body(self) -> dict[str, Any]:
        """None for a scope left empty: the key is not limited in that respect."""
        return {
            "name": self.name,
            "expires_in_days": self.days,
            "models": list(self.models) or None,
            "allowed_cidrs": list(self.cidrs) or None,
            "kb_scope": list(self.kb_scope) or None,
        }


def parse_form(
    name: str | None,
    days: float | None,
    models: Sequence[str] | None,
    cidrs: str | None,
    kb_scope: Sequence[str] | None = None,
) -> NewKeyForm:
    """The form as the gateway takes it: a name, whole days (90 when left empty), the
    chosen models, one address or network a line (blank lines skipped), and the chosen
    knowledge bases' ids. A malformed entry is named here in the user's language instead
    of the gateway's English."""
    clean = (name or "").strip()
    if not clean:
        raise FormError("key_err_name")
    if len(clean) > NAME_MAX:
        raise FormError("key_err_name_long", n=NAME_MAX)
    chosen = DEFAULT_DAYS if days is None else days
    if chosen != int(chosen) or chosen < 1:
        raise FormError("key_err_days")
    lines = tuple(line.strip() for line in (cidrs or "").splitlines() if line.strip())
    for line in lines:
        try:
            ipaddress.ip_network(line, strict=False)
        except ValueError:
            raise FormError("key_err_cidr", entry=line) from None
    if max(len(lines), len(models or ()), len(kb_scope or ())) > LIST_MAX:
        raise FormError("key_err_too_many", n=LIST_MAX)
    return NewKeyForm(clean, int(chosen), tuple(models or ()), lines, tuple(kb_scope or ()))


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def shown_time(value: Any) -> str:
    """A time as the table shows it, in UTC to the minute."""
    when = _when(value)
    return "" if when is None else when.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def state(key: dict[str, Any], now: datetime) -> str:
    """``revoked``, ``expired`` or ``valid``: revocation wins over expiry."""
    if key.get("revoked_at"):
        return "revoked"
    expires = _when(key.get("expires_at"))
    return "expired" if expires is not None and expires <= now else "valid"


def kb_names(knowledge_bases: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Each knowledge base's name by its id, to name a key's knowledge-base scope."""
    return {str(kb["id"]): str(kb["name"]) for kb in knowledge_bases if "id" in kb}


def row(
    key: dict[str, Any], lang: Lang, now: datetime, names: Mapping[str, str] | None = None
) -> list[str]:
    """One key's row of the table (never the key: the gateway lists only its prefix). A
    knowledge base of its scope is named from ``names``, by its id where the user can no
    longer read it."""
    scope = [(names or {}).get(str(kb_id), str(kb_id)) for kb_id in key.get("kb_scope") or []]
    return [
        str(key["name"]),
        f"{key['prefix']}…",
        t(f"key_state_{state(key, now)}", lang),
        shown_time(key.get("created_at")),
        shown_time(key.get("expires_at")),
        shown_time(key.get("last_used_at")) or t("key_never_used", lang),
        ", ".join(key.get("models") or []) or t("key_any_model", lang),
        ", ".join(key.get("allowed_cidrs") or []) or t("key_any_address", lang),
        ", ".join(scope) or t("key_any_kb", lang),
    ]


def revocable(keys: Sequence[dict[str, Any]], lang: Lang, now: datetime) -> list[tuple[str, str]]:
    """The choices of the revoke picker: each key not revoked yet, as ``name (prefix…)``
    with its state when it has expired, valued by its id."""
    choices = []
    for key in keys:
        current = state(key, now)
        if current == "revoked":
            continue
        label = f"{key['name']} ({key['prefix']}…)"
        if current == "expired":
            label += f" · {t('key_state_expired', lang)}"
        choices.append((label, str(key["id"])))
    return choices


def refusal_message(error: GatewayError, lang: Lang) -> str:
    """The gateway's refusal in the user's language where its code has a name there, its
    own message otherwise."""
    key = f"key_err_{error.code}"
    if error.code and known(key):
        return t(key, lang)
    return t("key_err_other", lang, message=error.message)
