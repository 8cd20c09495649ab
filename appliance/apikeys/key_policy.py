"""The security administrator's policy on personal API keys, and the checks a new key must
pass against it. Pure: the stored versions are :mod:`.policy_store`'s.

``creators``: who may make keys: ``"staff"`` (anyone holding the staff role, the default),
a list of realm roles (anyone holding one of them), or ``"nobody"``. ``max_days``: the
longest lifetime a new key may ask for, at most the site's ``api_keys.max_days`` (the
default). ``models``: the model scopes a new key may name; empty allows any, non-empty
requires each key to name models, all from the list. ``service_keys``: whether keys not
tied to a person (a sysadmin's keys for integrations) may be made and listed. The policy
applies when a key is made; keys made before a change keep their limits until revoked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from appliance.auth.principal import Principal, Role
from appliance.errors import Forbidden, InvalidRequest

STAFF: Literal["staff"] = "staff"
NOBODY: Literal["nobody"] = "nobody"
Creators = Literal["staff", "nobody"] | list[Role]


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """One version of the policy; revision 0 is the default, never stored."""

    creators: Creators
    max_days: int
    models: tuple[str, ...] = ()
    service_keys: bool = False
    revision: int = 0
    changed_by: str = ""
    changed_at: datetime | None = field(default=None)


def default_policy(site_max_days: int) -> KeyPolicy:
    return KeyPolicy(creators=STAFF, max_days=site_max_days)


class PolicyIn(BaseModel):
    """The body of ``PUT /api/content/api-key-policy``: the whole policy."""

    model_config = ConfigDict(extra="forbid")

    creators: Creators = STAFF
    max_days: int = Field(ge=1)
    models: list[str] = Field(default_factory=list, max_length=50)
    service_keys: bool = False
    # The revision the administrator read; a later change in between is a 409.
    base_revision: int | None = Field(default=None, ge=0)


class PolicyOut(BaseModel):
    revision: int
    creators: Creators
    max_days: int
    models: list[str]
    service_keys: bool
    changed_by: str
    changed_at: datetime | None
    # The site's ceiling on max_days (``api_keys.max_days``).
    site_max_days: int


def policy_out(policy: KeyPolicy, site_max_days: int) -> PolicyOut:
    return PolicyOut(
        revision=policy.revision,
        creators=policy.creators,
        max_days=policy.max_days,
        models=list(policy.models),
        service_keys=policy.service_keys,
        changed_by=policy.changed_by,
        changed_at=policy.changed_at,
        site_max_days=site_max_days,
    )


def proposed(body: PolicyIn, site_max_days: int) -> KeyPolicy:
    """The policy a PUT asks for, checked: 400 when ``max_days`` is above the site's
    ceiling or ``creators`` is an empty list (``"nobody"`` says that)."""
    if body.max_days > site_max_days:
        raise InvalidRequest(
            f"Invalid value for 'max_days': at most {site_max_days} (the site's"
            " api_keys.max_days).",
            code="invalid_value",
        )
    creators: Creators = body.creators
    if isinstance(creators, list):
        if not creators:
            raise InvalidRequest(
                "Invalid value for 'creators': name at least one role, or \"nobody\".",
                code="invalid_value",
            )
        creators = sorted(set(creators))
    models = tuple(sorted({m.strip() for m in body.models if m.strip()}))
    return KeyPolicy(
        creators=creators, max_days=body.max_days, models=models, service_keys=body.service_keys
    )


def may_create(policy: KeyPolicy, principal: Principal) -> bool:
    if policy.creators == NOBODY:
        return False
    if policy.creators == STAFF:
        return principal.has_role(Role.STAFF)
    return any(principal.has_role(role) for role in policy.creators)


def check_creation(
    policy: KeyPolicy, principal: Principal, days: int | None, models: Sequence[str] | None
) -> None:
    """Refuse a new key the policy does not allow: 403 ``api_key_policy_creators``, 400
    ``api_key_policy_max_days`` or 400 ``api_key_policy_models``."""
    if not may_create(policy, principal):
        raise Forbidden(
            "The security administrator's API key policy does not let you create keys.",
            code="api_key_policy_creators",
        )
    if days is not None and days > policy.max_days:
        raise InvalidRequest(
            f"Invalid value for 'expires_in_days': the API key policy allows at most"
            f" {policy.max_days} days.",
            code="api_key_policy_max_days",
        )
    if policy.models:
        outside = sorted(set(models or ()) - set(policy.models))
        if not models or outside:
            allowed = ", ".join(policy.models)
            named = f" ({', '.join(outside)} not allowed)" if outside else ""
            raise InvalidRequest(
                f"Invalid value for 'models': the API key policy requires a key to name its"
                f" models, from: {allowed}{named}.",
                code="api_key_policy_models",
            )


def default_days(policy: KeyPolicy, site_default_days: int) -> int:
    """A new key's lifetime when its owner names none: the site's default, within the
    policy's longest."""
    return min(site_default_days, policy.max_days)
