"""三员分立 for account changes: who may change whose account, as pure functions.

- Only the system administrator (``sysadmin``) manages accounts, groups and API clients,
  and grants or revokes the ordinary roles ``staff`` and ``kb-editor``.
- Granting or revoking an administrator role (``sysadmin``, ``secadmin``, ``auditor``)
  needs the security administrator (``secadmin``); a sysadmin cannot make an auditor, nor
  a new sysadmin, so no single administrator can both act and hide the trace.
- An administrator's account (holding ``sysadmin``, ``secadmin`` or ``auditor``) is
  disabled or enabled only by the secadmin, and its password is never reset here (Keycloak's
  console on the node): otherwise the sysadmin could take over or silence the secadmin or
  an auditor.
- Nobody changes their own roles or disables their own account.

Every refusal is a :class:`~appliance.errors.Forbidden` with the code
``separation_of_duties`` and a message naming the rule; the gateway audits it.
"""

from __future__ import annotations

from collections.abc import Iterable

from appliance.auth.principal import Principal, Role
from appliance.errors import Forbidden, InvalidRequest

ADMIN_ROLES = frozenset({Role.SYSADMIN.value, Role.SECADMIN.value, Role.AUDITOR.value})
ORDINARY_ROLES = frozenset({Role.STAFF.value, Role.KB_EDITOR.value})
KNOWN_ROLES = ADMIN_ROLES | ORDINARY_ROLES
RULE_CODE = "separation_of_duties"

MANAGE_RULE = (
    "三员分立: only the system administrator (sysadmin) manages accounts, groups and API clients."
)
ORDINARY_RULE = (
    "三员分立: only the system administrator (sysadmin) grants or revokes staff and kb-editor."
)
ADMIN_RULE = (
    "三员分立: granting or revoking sysadmin, secadmin or auditor needs the security"
    " administrator (secadmin)."
)
ADMIN_ACCOUNT_RULE = (
    "三员分立: an administrator's account (sysadmin, secadmin, auditor) is disabled or enabled"
    " only by the security administrator (secadmin)."
)
ADMIN_RESET_RULE = (
    "三员分立: an administrator's password (sysadmin, secadmin, auditor) is not reset through"
    " the appliance; use Keycloak's console on the node."
)
SELF_ROLES_RULE = "三员分立: nobody may change their own roles."
SELF_DISABLE_RULE = "三员分立: nobody may disable their own account."


def known_roles(roles: Iterable[str]) -> frozenset[str]:
    """The roles as a set, or ``InvalidRequest`` naming the first unknown one."""
    wanted = frozenset(roles)
    unknown = sorted(wanted - KNOWN_ROLES)
    if unknown:
        raise InvalidRequest(
            f"Unknown role {unknown[0]!r}; the roles are {', '.join(sorted(KNOWN_ROLES))}.",
            code="unknown_role",
        )
    return wanted


def require_manager(principal: Principal) -> None:
    """Accounts, groups and API clients are the sysadmin's."""
    if not principal.has_role(Role.SYSADMIN):
        raise Forbidden(MANAGE_RULE, code=RULE_CODE)


def check_role_change(
    principal: Principal, target_subject: str | None, roles: Iterable[str]
) -> None:
    """May ``principal`` grant or revoke ``roles`` on the account ``target_subject``?

    Called once before the account is looked up (``None``: nothing about the account is
    revealed to a caller who may not change roles at all) and once with its id.
    """
    changed = known_roles(roles)
    if target_subject is not None and target_subject == principal.subject:
        raise Forbidden(SELF_ROLES_RULE, code=RULE_CODE)
    if changed & ADMIN_ROLES and not principal.has_role(Role.SECADMIN):
        raise Forbidden(ADMIN_RULE, code=RULE_CODE)
    if changed & ORDINARY_ROLES and not principal.has_role(Role.SYSADMIN):
        raise Forbidden(ORDINARY_RULE, code=RULE_CODE)


def check_new_account_roles(principal: Principal, roles: Iterable[str]) -> None:
    """A new account: the sysadmin creates it with ordinary roles only."""
    require_manager(principal)
    if known_roles(roles) & ADMIN_ROLES and not principal.has_role(Role.SECADMIN):
        raise Forbidden(ADMIN_RULE, code=RULE_CODE)


def require_account_manager(principal: Principal) -> None:
    """Before an account is looked up: only the sysadmin or the secadmin get further."""
    if not (principal.has_role(Role.SYSADMIN) or principal.has_role(Role.SECADMIN)):
        raise Forbidden(MANAGE_RULE, code=RULE_CODE)


def check_enable(
    principal: Principal, target_subject: str, target_roles: Iterable[str], *, enabled: bool
) -> None:
    """Disabling or enabling: ordinary accounts are the sysadmin's, administrators' the
    secadmin's, one's own nobody's."""
    if not enabled and target_subject == principal.subject:
        raise Forbidden(SELF_DISABLE_RULE, code=RULE_CODE)
    if frozenset(target_roles) & ADMIN_ROLES:
        if not principal.has_role(Role.SECADMIN):
            raise Forbidden(ADMIN_ACCOUNT_RULE, code=RULE_CODE)
        return
    require_manager(principal)


def check_reset_password(principal: Principal, target_roles: Iterable[str]) -> None:
    require_manager(principal)
    if frozenset(target_roles) & ADMIN_ROLES:
        raise Forbidden(ADMIN_RESET_RULE, code=RULE_CODE)
