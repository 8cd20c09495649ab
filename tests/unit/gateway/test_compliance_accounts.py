"""The export's ``accounts.json``: each account's last sign-in and where it came from, with
the directory's answers given (the Keycloak calls behind them: tests/unit/identity)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from appliance.gateway.compliance import serving
from appliance.identity.directory import Directory
from appliance.identity.schemas import UserOut
from appliance.identity.sign_ins import LastSignIn
from appliance.settings import KeycloakSettings

LOGGED_IN = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
SESSION = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


def _user(user_id: str, username: str) -> UserOut:
    return UserOut(
        id=user_id,
        username=username,
        name=username,
        email="",
        enabled=True,
        roles=["staff"],
        departments=["/dept/legal"],
        created=None,
    )


class GivenDirectory:
    """Three people: one signed in months ago, one with only a session, one never."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def list_users(self) -> list[UserOut]:
        return [_user("u1", "wang.fang"), _user("u2", "zhang.wei"), _user("u3", "sun.li")]

    def last_sign_ins(self, user_ids: Sequence[str]) -> dict[str, LastSignIn]:
        self.asked.append(list(user_ids))
        return {"u1": LastSignIn(LOGGED_IN, "event"), "u2": LastSignIn(SESSION, "session")}


def test_each_account_says_when_and_from_what_it_last_signed_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    directory = GivenDirectory()
    monkeypatch.setattr(Directory, "connect", lambda settings: directory)
    accounts = serving._accounts(KeycloakSettings())
    rows = {row["username"]: row for row in accounts["users"]}
    assert (rows["wang.fang"]["last_sign_in"], rows["wang.fang"]["last_sign_in_source"]) == (
        "2026-06-01T08:30:00+00:00",
        "event",
    )
    assert rows["zhang.wei"]["last_sign_in_source"] == "session"
    assert rows["zhang.wei"]["last_sign_in"] == SESSION.isoformat()
    assert (rows["sun.li"]["last_sign_in"], rows["sun.li"]["last_sign_in_source"]) == (None, None)
    assert "LOGIN event" in accounts["source"]
    # One read for the whole directory, not one per account.
    assert directory.asked == [["u1", "u2", "u3"]]
