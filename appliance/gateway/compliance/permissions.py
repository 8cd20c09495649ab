"""The permission matrix, read from the routes themselves: which role may call what.

Each route's dependencies are walked; a guard made by ``deps.require_role`` or
``deps.require_any_role`` names its roles in its closure, and a dependency that awaits such
a guard or ``deps.current_principal`` in its body is read through the names it uses.
``signed-in``: any valid token reaches the route, and its handler decides further (the
owner of a conversation, a knowledge base's managers, the 三员分立 rules on accounts, the
assessment's own checks); ``public``: no token at all (the health checks). The matrix
says who may reach a route, not every rule behind it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.routing import BaseRoute

from appliance.auth.principal import Role
from appliance.gateway.deps import current_principal

PUBLIC = "public"
SIGNED_IN = "signed-in"


def _guard_roles(call: Callable[..., Any]) -> tuple[Role, ...] | None:
    """The roles a guard closure requires, None when ``call`` is no role guard."""
    if not inspect.isfunction(call):
        return None
    nonlocals = inspect.getclosurevars(call).nonlocals
    if isinstance(role := nonlocals.get("role"), Role):
        return (role,)
    roles = nonlocals.get("roles")
    if isinstance(roles, tuple) and roles and all(isinstance(r, Role) for r in roles):
        return roles
    return None


def _access_of(call: Callable[..., Any]) -> tuple[tuple[Role, ...], bool]:
    """(roles required, signs the caller in) of one dependency: a guard itself, or a function
    that awaits a guard or ``current_principal`` in its body (as ``chat_context`` does)."""
    roles = _guard_roles(call)
    if roles is not None:
        return roles, True
    if call is current_principal:
        return (), True
    if not inspect.isfunction(call):
        return (), False
    found = inspect.getclosurevars(call)
    referenced = [*found.nonlocals.values(), *found.globals.values()]
    required: tuple[Role, ...] = ()
    signed_in = False
    for used in referenced:
        if used is current_principal:
            signed_in = True
        elif (guard := _guard_roles(used)) is not None:
            required, signed_in = (*required, *guard), True
    return required, signed_in


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def route_access(route: APIRoute | RouteContext) -> tuple[str, tuple[Role, ...]]:
    """(``role``, ``signed-in`` or ``public``; the roles required, any one of them)."""
    required: tuple[Role, ...] = ()
    signed_in = False
    for call in _calls(route.dependant):
        roles, signs_in = _access_of(call)
        required, signed_in = (*required, *roles), signed_in or signs_in
    if required:
        return "role", tuple(dict.fromkeys(required))
    return (SIGNED_IN if signed_in else PUBLIC), ()


def matrix(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """Every API route (method, path) against every realm role: may that role call it."""
    roles = [role.value for role in Role]
    rows = []
    # Route contexts: the routes as included, with their include-time dependencies.
    for route in iter_route_contexts(list(routes)):
        if not isinstance(route.original_route, APIRoute):
            continue
        access, required = route_access(route)
        for method in sorted(route.methods or ()):
            allowed = {
                name: access in {PUBLIC, SIGNED_IN} or Role(name) in required for name in roles
            }
            rows.append(
                {
                    "method": method,
                    "path": route.path,
                    "access": access,
                    "required_roles": [r.value for r in required],
                    "roles": allowed,
                }
            )
    rows.sort(key=lambda r: (r["path"], r["method"]))
    return {"roles": roles, "routes": rows}
