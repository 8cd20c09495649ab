"""The security administrator's key policy: what a PUT may say, and which new keys it
refuses with which code."""

from __future__ import annotations

import pytest

from appliance.apikeys.key_policy import (
    NOBODY,
    STAFF,
    KeyPolicy,
    PolicyIn,
    check_creation,
    default_days,
    default_policy,
    proposed,
)
from appliance.apikeys.policy import cards_in_scope
from appliance.auth.principal import Principal, Role
from appliance.errors import ApplianceError


def _who(*roles: str) -> Principal:
    return Principal(subject="s", username="u", roles=frozenset(roles), groups=frozenset())


def _code(
    policy: KeyPolicy, principal: Principal, days: int | None, models: list[str] | None
) -> str:
    try:
        check_creation(policy, principal, days, models)
    except ApplianceError as exc:
        return f"{exc.status_code} {exc.code}"
    return "ok"


def test_the_default_lets_staff_make_keys_up_to_the_site_maximum() -> None:
    policy = default_policy(365)
    assert (policy.creators, policy.max_days, policy.models, policy.revision) == (STAFF, 365, (), 0)
    assert _code(policy, _who("staff"), 365, None) == "ok"
    assert _code(policy, _who("sysadmin"), None, None) == "403 api_key_policy_creators"


def test_creators_by_role_and_nobody() -> None:
    editors = KeyPolicy(creators=[Role.KB_EDITOR, Role.SECADMIN], max_days=30)
    assert _code(editors, _who("staff"), None, None) == "403 api_key_policy_creators"
    assert _code(editors, _who("staff", "kb-editor"), None, None) == "ok"
    closed = KeyPolicy(creators=NOBODY, max_days=30)
    assert (
        _code(closed, _who(*[r.value for r in Role]), None, None) == "403 api_key_policy_creators"
    )


def test_max_days_and_the_default_lifetime_within_it() -> None:
    policy = KeyPolicy(creators=STAFF, max_days=30)
    assert _code(policy, _who("staff"), 30, None) == "ok"
    assert _code(policy, _who("staff"), 31, None) == "400 api_key_policy_max_days"
    assert default_days(policy, 90) == 30
    assert default_days(KeyPolicy(creators=STAFF, max_days=365), 90) == 90


def test_a_model_list_requires_each_key_to_name_models_from_it() -> None:
    policy = KeyPolicy(creators=STAFF, max_days=30, models=("a", "b"))
    assert _code(policy, _who("staff"), None, ["a"]) == "ok"
    assert _code(policy, _who("staff"), None, ["a", "b"]) == "ok"
    assert _code(policy, _who("staff"), None, None) == "400 api_key_policy_models"
    assert _code(policy, _who("staff"), None, []) == "400 api_key_policy_models"
    assert _code(policy, _who("staff"), None, ["a", "c"]) == "400 api_key_policy_models"


def test_a_put_is_checked_and_normalised() -> None:
    body = PolicyIn(creators=["staff", "kb-editor", "staff"], max_days=30, models=[" b", "a", "b"])
    policy = proposed(body, 365)
    assert policy.creators == [Role.KB_EDITOR, Role.STAFF] and policy.models == ("a", "b")
    with pytest.raises(ApplianceError) as above:
        proposed(PolicyIn(max_days=366), 365)
    assert above.value.status_code == 400
    with pytest.raises(ApplianceError):
        proposed(PolicyIn(creators=[], max_days=30), 365)
    with pytest.raises(ValueError):
        PolicyIn.model_validate({"creators": ["root"], "max_days": 30})
    with pytest.raises(ValueError):
        PolicyIn.model_validate({"max_days": 30, "keys": True})


def test_v1_models_with_a_scope_lists_only_its_models() -> None:
    cards = [{"id": "a"}, {"id": "b"}]
    assert cards_in_scope(cards, ["b"]) == [{"id": "b"}]
    assert cards_in_scope(cards, []) == cards
    assert cards_in_scope(cards, None) == cards
