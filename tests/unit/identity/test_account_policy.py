"""三员分立 for account changes: every rule, for every kind of administrator."""

from __future__ import annotations

import pytest

from appliance.auth.principal import Principal
from appliance.errors import Forbidden, InvalidRequest
from appliance.identity import policy


def _who(*roles: str, subject: str = "admin-id") -> Principal:
    return Principal(subject=subject, username=subject, roles=frozenset(roles), groups=frozenset())


SYSADMIN, SECADMIN = _who("sysadmin"), _who("secadmin")
TARGET = "someone-else"


@pytest.mark.parametrize("role", ["staff", "kb-editor"])
def test_sysadmin_grants_the_ordinary_roles(role: str) -> None:
    policy.check_role_change(SYSADMIN, TARGET, [role])
    policy.check_new_account_roles(SYSADMIN, [role])


@pytest.mark.parametrize("role", ["sysadmin", "secadmin", "auditor"])
def test_administrator_roles_need_the_secadmin(role: str) -> None:
    with pytest.raises(Forbidden) as refused:
        policy.check_role_change(SYSADMIN, TARGET, [role])
    assert refused.value.code == "separation_of_duties"
    assert refused.value.message == policy.ADMIN_RULE
    with pytest.raises(Forbidden):
        policy.check_new_account_roles(SYSADMIN, ["staff", role])
    policy.check_role_change(SECADMIN, TARGET, [role])


@pytest.mark.parametrize("role", ["staff", "kb-editor"])
def test_secadmin_does_not_grant_ordinary_roles(role: str) -> None:
    with pytest.raises(Forbidden) as refused:
        policy.check_role_change(SECADMIN, TARGET, [role])
    assert refused.value.message == policy.ORDINARY_RULE


@pytest.mark.parametrize(("actor", "role"), [(SYSADMIN, "staff"), (SECADMIN, "auditor")])
def test_nobody_changes_their_own_roles(actor: Principal, role: str) -> None:
    with pytest.raises(Forbidden) as refused:
        policy.check_role_change(actor, actor.subject, [role])
    assert refused.value.message == policy.SELF_ROLES_RULE
    # Before the account is looked up, only the role rules apply.
    policy.check_role_change(actor, None, [role])


@pytest.mark.parametrize("actor", [_who("staff"), _who("auditor"), SECADMIN, _who()])
def test_only_the_sysadmin_manages_accounts(actor: Principal) -> None:
    for check in (
        lambda: policy.require_manager(actor),
        lambda: policy.check_new_account_roles(actor, ["staff"]),
        lambda: policy.check_enable(actor, TARGET, ["staff"], enabled=False),
        lambda: policy.check_reset_password(actor, ["staff"]),
    ):
        with pytest.raises(Forbidden) as refused:
            check()
        assert refused.value.message == policy.MANAGE_RULE


def test_nobody_disables_themselves() -> None:
    policy.check_enable(SYSADMIN, TARGET, ["staff"], enabled=False)
    for actor in (SYSADMIN, SECADMIN):
        with pytest.raises(Forbidden) as refused:
            policy.check_enable(actor, actor.subject, sorted(actor.roles), enabled=False)
        assert refused.value.message == policy.SELF_DISABLE_RULE


@pytest.mark.parametrize("role", ["sysadmin", "secadmin", "auditor"])
def test_administrators_accounts_are_the_secadmins_and_their_passwords_nobodys(
    role: str,
) -> None:
    for enabled in (False, True):
        with pytest.raises(Forbidden) as refused:
            policy.check_enable(SYSADMIN, TARGET, [role], enabled=enabled)
        assert refused.value.message == policy.ADMIN_ACCOUNT_RULE
        policy.check_enable(SECADMIN, TARGET, [role], enabled=enabled)
    for actor in (SYSADMIN, SECADMIN):
        with pytest.raises(Forbidden) as refused:
            policy.check_reset_password(actor, ["staff", role])
    policy.check_reset_password(SYSADMIN, ["staff", "kb-editor"])


def test_staff_get_no_further_than_the_first_check() -> None:
    with pytest.raises(Forbidden) as refused:
        policy.require_account_manager(_who("staff", "kb-editor"))
    assert refused.value.message == policy.MANAGE_RULE
    policy.require_account_manager(SECADMIN)


def test_unknown_role_is_invalid_not_forbidden() -> None:
    with pytest.raises(InvalidRequest) as invalid:
        policy.check_role_change(SYSADMIN, TARGET, ["root"])
    assert invalid.value.code == "unknown_role"
