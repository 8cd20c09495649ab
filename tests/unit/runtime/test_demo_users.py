"""The demo users cover every role and more than one department."""

from __future__ import annotations

from appliance.runtime.demo_users import DEMO_USERS, stored_passwords
from appliance.runtime.paths import RuntimePaths
from appliance.runtime.secrets import save_json_secrets

ROLES = {"staff", "kb-editor", "sysadmin", "secadmin", "auditor"}


def test_every_role_has_a_demo_user() -> None:
    assert {role for user in DEMO_USERS for role in user.roles} == ROLES


def test_the_three_admin_roles_are_held_by_three_different_people() -> None:
    holders = {
        role: {u.username for u in DEMO_USERS if role in u.roles}
        for role in ("sysadmin", "secadmin", "auditor")
    }
    assert all(len(people) == 1 for people in holders.values())
    assert len(set.union(*holders.values())) == 3


def test_users_span_several_departments_and_one_has_no_role() -> None:
    assert len({group for user in DEMO_USERS for group in user.groups}) >= 2
    assert any(not user.roles for user in DEMO_USERS)


def test_usernames_are_unique_and_mail_never_leaves_the_machine() -> None:
    names = [user.username for user in DEMO_USERS]
    assert len(names) == len(set(names))
    assert all(user.email == f"{user.username}@example.invalid" for user in DEMO_USERS)


def test_passwords_are_read_from_the_secrets_folder(paths: RuntimePaths) -> None:
    assert stored_passwords(paths) == {}
    save_json_secrets(paths.secret("demo_users.json"), {"li.na": "pw"})
    assert stored_passwords(paths) == {"li.na": "pw"}
