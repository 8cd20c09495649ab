"""When each user last signed in: Keycloak's stored LOGIN events, else the newest session.

The realm stores the user events LOGIN and LOGIN_ERROR (``enabledEventTypes`` in the realm
file, kept ``eventsExpiration`` seconds); reading them needs realm-management's
``view-events``, which the accounts client has. A sign-in that ended long ago is still
known this way, which an open session cannot tell: the 等保 assessor asks when a dormant
account was last used.

The number of admin calls stays linear in the number of users however many events are
stored: one query for every user's LOGIN events, newest first, paged, read up to
``SCAN_EVENTS_PER_USER`` events per user; only the users it did not reach are asked for one
by one (``user=<id>&max=1``), and only those without any stored event fall back to the start
of their newest open session. Each answer says which it is (``source``). A client without
``view-events`` (403) reads sessions only, rather than failing the whole export.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from keycloak.exceptions import KeycloakError

LOGIN = "LOGIN"
FORBIDDEN = 403
PAGE_SIZE = 500
# Events read by the one query for all users before asking the rest one by one: enough
# for a directory whose users sign in a few times between their neighbours' sign-ins,
# bounded for one whose few busy accounts sign in thousands of times.
SCAN_EVENTS_PER_USER = 10

Source = Literal["event", "session"]


class EventReader(Protocol):
    """The two calls of python-keycloak's ``KeycloakAdmin`` this module makes."""

    def get_events(self, query: dict[str, Any] | None = None) -> list[Any]: ...

    def get_sessions(self, user_id: str) -> list[Any]: ...


@dataclass(frozen=True)
class LastSignIn:
    at: datetime
    source: Source


def _moment(millis: Any) -> datetime:
    return datetime.fromtimestamp(int(millis) / 1000, UTC)


def newest_logins(events: Iterable[Mapping[str, Any]]) -> dict[str, datetime]:
    """The newest LOGIN time per user id among ``events`` (Keycloak's EventRepresentation:
    ``time`` in epoch milliseconds, ``type``, ``userId``); other types and events without a
    user or a time are ignored."""
    newest: dict[str, datetime] = {}
    for event in events:
        user_id, millis = event.get("userId"), event.get("time")
        if event.get("type") != LOGIN or not user_id or not millis:
            continue
        at = _moment(millis)
        if str(user_id) not in newest or at > newest[str(user_id)]:
            newest[str(user_id)] = at
    return newest


def _query(first: int, size: int, user_id: str | None = None) -> dict[str, Any]:
    query: dict[str, Any] = {"type": LOGIN, "direction": "desc", "first": first, "max": size}
    return query if user_id is None else {**query, "user": user_id}


def _scan(admin: EventReader, wanted: set[str]) -> tuple[dict[str, datetime], bool]:
    """Every user's LOGIN events, newest first, until each wanted user is found, the events
    end or the budget is spent; returns the newest per user and whether the events ended."""
    found: dict[str, datetime] = {}
    budget = SCAN_EVENTS_PER_USER * len(wanted)
    first = 0
    while first < budget and not wanted <= found.keys():
        page = admin.get_events(_query(first, PAGE_SIZE))
        for user_id, at in newest_logins(page).items():
            if user_id not in found or at > found[user_id]:
                found[user_id] = at
        if len(page) < PAGE_SIZE:
            return found, True
        first += PAGE_SIZE
    return found, False


def _newest_session(admin: EventReader, user_id: str) -> datetime | None:
    starts = [int(s["start"]) for s in admin.get_sessions(user_id) if s.get("start")]
    return _moment(max(starts)) if starts else None


def last_sign_ins(admin: EventReader, user_ids: Sequence[str]) -> dict[str, LastSignIn]:
    """The last sign-in of each user that has one: the newest stored LOGIN event, else the
    start of the newest open session; a user with neither is absent."""
    wanted = set(user_ids)
    if not wanted:
        return {}
    try:
        logins, complete = _scan(admin, wanted)
    except KeycloakError as exc:
        # A site whose accounts client was made before it had ``view-events``: the export
        # still lists every account, each sign-in marked as only a session's start.
        if exc.response_code != FORBIDDEN:
            raise
        logins, complete = {}, True
    for user_id in sorted(wanted - logins.keys()) if not complete else ():
        logins |= newest_logins(admin.get_events(_query(0, 1, user_id)))
    found = {
        user_id: LastSignIn(at, "event") for user_id, at in logins.items() if user_id in wanted
    }
    for user_id in sorted(wanted - found.keys()):
        started = _newest_session(admin, user_id)
        if started is not None:
            found[user_id] = LastSignIn(started, "session")
    return found
