"""Each account's last sign-in, read through python-keycloak from a loopback server that
answers as Keycloak 26's admin REST API does: the requests the directory sends (path and
query), the parsing of its answers (EventRepresentation and UserSessionRepresentation, as
Keycloak 26.7 serialises them), the fallback to sessions and a bounded number of calls."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from appliance.errors import UpstreamError
from appliance.identity import sign_ins
from appliance.identity.directory import Directory
from appliance.identity.sign_ins import LastSignIn, newest_logins
from appliance.settings import KeycloakSettings

REALM_ID = "0f1e6a52-3c2b-4d53-9a0e-6b1f4c2d7e10"
ZHAO, LIU, ZHANG, CHEN = "u-zhao", "u-liu", "u-zhang", "u-chen"


def login(user_id: str, millis: int, username: str = "zhao.min") -> dict[str, Any]:
    """A LOGIN event of a password grant, shaped as Keycloak 26.7's EventRepresentation."""
    return {
        "id": f"ev-{user_id}-{millis}",
        "time": millis,
        "type": "LOGIN",
        "realmId": REALM_ID,
        "clientId": "appliance-dev",
        "userId": user_id,
        "sessionId": f"s-{user_id}-{millis}",
        "ipAddress": "127.0.0.1",
        "details": {
            "auth_method": "openid-connect",
            "grant_type": "password",
            "token_id": "onrtac:0c3c4a1e",
            "scope": "openid profile email",
            "refresh_token_type": "Refresh",
            "client_auth_method": "client-secret",
            "username": username,
        },
    }


def login_error(user_id: str, millis: int) -> dict[str, Any]:
    return {
        "id": f"err-{user_id}-{millis}",
        "time": millis,
        "type": "LOGIN_ERROR",
        "realmId": REALM_ID,
        "clientId": "appliance-dev",
        "userId": user_id,
        "ipAddress": "127.0.0.1",
        "error": "invalid_user_credentials",
        "details": {"auth_method": "openid-connect", "grant_type": "password"},
    }


def session(user_id: str, start: int) -> dict[str, Any]:
    """A UserSessionRepresentation (``start`` and ``lastAccess`` in epoch milliseconds)."""
    return {
        "id": f"s-{user_id}",
        "username": user_id,
        "userId": user_id,
        "ipAddress": "127.0.0.1",
        "start": start,
        "lastAccess": start + 60_000,
        "rememberMe": False,
        "clients": {"c-uuid": "appliance-webui"},
        "transientUser": False,
    }


def at(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, UTC)


class Realm:
    """What the loopback Keycloak holds, and every admin request it was sent."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.sessions: dict[str, list[dict[str, Any]]] = {}
        self.events_status = 200
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.url = ""

    def query_events(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        """Keycloak's filter: types, user, newest first unless ``direction=asc``, then
        ``first`` and ``max`` (100 when absent)."""
        found = [e for e in self.events if e["type"] in query.get("type", [e["type"]])]
        if "user" in query:
            found = [e for e in found if e["userId"] == query["user"][0]]
        ascending = query.get("direction", ["desc"])[0] == "asc"
        found.sort(key=lambda e: int(e["time"]), reverse=not ascending)
        first = int(query.get("first", ["0"])[0])
        return found[first : first + int(query.get("max", ["100"])[0])]


def _handler(realm: Realm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def _send(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            token = {"access_token": "t", "expires_in": 300, "token_type": "Bearer"}
            self._send(200, token)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            realm.requests.append((url.path, query))
            if url.path == "/admin/realms/appliance/events":
                if realm.events_status != 200:
                    self._send(realm.events_status, {"error": "HTTP 403 Forbidden"})
                    return
                self._send(200, realm.query_events(query))
                return
            prefix, _, user_id = url.path.removesuffix("/sessions").rpartition("/")
            if prefix == "/admin/realms/appliance/users" and url.path.endswith("/sessions"):
                self._send(200, realm.sessions.get(user_id, []))
                return
            self._send(404, {"error": "not found"})

    return Handler


@pytest.fixture
def realm() -> Iterator[Realm]:
    held = Realm()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(held))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    held.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield held
    server.shutdown()
    server.server_close()


def _directory(realm: Realm) -> Directory:
    settings = KeycloakSettings(
        issuer=f"{realm.url}/realms/appliance", accounts_client_secret=SecretStr("secret")
    )
    return Directory.connect(settings)


def _event_queries(realm: Realm) -> list[dict[str, list[str]]]:
    return [query for path, query in realm.requests if path.endswith("/events")]


def _session_reads(realm: Realm) -> list[str]:
    return [path.split("/")[-2] for path, _ in realm.requests if path.endswith("/sessions")]


def test_the_newest_login_per_user_is_read_from_the_events_not_the_errors() -> None:
    events = [
        login(ZHAO, 1_796_000_000_000),
        login_error(ZHAO, 1_796_500_000_000),
        login(ZHAO, 1_796_200_000_000),
        login(LIU, 1_795_000_000_000, "liu.yang"),
        {**login(CHEN, 1_796_000_000_000), "userId": None},
        {**login(CHEN, 1_796_000_000_000), "time": 0},
    ]
    assert newest_logins(events) == {ZHAO: at(1_796_200_000_000), LIU: at(1_795_000_000_000)}


def test_one_events_query_then_sessions_only_for_users_without_an_event(realm: Realm) -> None:
    realm.events = [
        login(ZHAO, 1_796_000_000_000),
        login(ZHAO, 1_796_200_000_000),
        login(LIU, 1_780_000_000_000, "liu.yang"),
    ]
    # An open session newer than zhao.min's last LOGIN event: the event still decides.
    realm.sessions = {
        ZHAO: [session(ZHAO, 1_796_300_000_000)],
        ZHANG: [session(ZHANG, 1_796_100_000_000), session(ZHANG, 1_796_150_000_000)],
    }
    found = _directory(realm).last_sign_ins([ZHAO, LIU, ZHANG, CHEN])
    assert found == {
        ZHAO: LastSignIn(at(1_796_200_000_000), "event"),
        LIU: LastSignIn(at(1_780_000_000_000), "event"),
        ZHANG: LastSignIn(at(1_796_150_000_000), "session"),
    }
    assert _event_queries(realm) == [
        {"type": ["LOGIN"], "direction": ["desc"], "first": ["0"], "max": ["500"]}
    ]
    # Every stored LOGIN event was read, so nobody is asked for one by one.
    assert sorted(_session_reads(realm)) == [CHEN, ZHANG]


def test_a_large_directory_is_paged_then_asked_user_by_user(
    realm: Realm, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sign_ins, "PAGE_SIZE", 5)
    monkeypatch.setattr(sign_ins, "SCAN_EVENTS_PER_USER", 2)
    dormant = [f"u-{n}" for n in range(5)]
    busy = [login(ZHAO, 1_796_000_000_000 + n) for n in range(40)]
    realm.events = busy + [login(user, 1_700_000_000_000 + n) for n, user in enumerate(dormant)]
    users = [ZHAO, *dormant]

    found = _directory(realm).last_sign_ins(users)

    assert found[ZHAO] == LastSignIn(at(1_796_000_000_039), "event")
    for n, user in enumerate(dormant):
        assert found[user] == LastSignIn(at(1_700_000_000_000 + n), "event")
    queries = _event_queries(realm)
    # 6 users x 2 events: pages of 5 at 0, 5 and 10, then one query per user not reached.
    pages = [q for q in queries if "user" not in q]
    assert [q["first"] for q in pages] == [["0"], ["5"], ["10"]]
    assert all(q["max"] == ["5"] and q["type"] == ["LOGIN"] for q in pages)
    one_by_one = [q for q in queries if "user" in q]
    assert [q["user"][0] for q in one_by_one] == sorted(dormant)
    assert all(
        q["max"] == ["1"] and q["direction"] == ["desc"] and q["type"] == ["LOGIN"]
        for q in one_by_one
    )
    assert _session_reads(realm) == []
    assert len(realm.requests) <= 2 * len(users) + 3


def test_without_view_events_every_account_falls_back_to_its_sessions(realm: Realm) -> None:
    realm.events = [login(ZHAO, 1_796_200_000_000)]
    realm.events_status = 403
    realm.sessions = {ZHAO: [session(ZHAO, 1_796_300_000_000)]}
    found = _directory(realm).last_sign_ins([ZHAO, LIU])
    assert found == {ZHAO: LastSignIn(at(1_796_300_000_000), "session")}
    assert sorted(_session_reads(realm)) == [LIU, ZHAO]


def test_any_other_keycloak_error_fails_the_read(realm: Realm) -> None:
    realm.events_status = 500
    with pytest.raises(UpstreamError, match="answered 500"):
        _directory(realm).last_sign_ins([ZHAO])


def test_no_users_no_calls(realm: Realm) -> None:
    assert _directory(realm).last_sign_ins([]) == {}
    assert realm.requests == []
