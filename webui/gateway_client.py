"""The web UI's client of the gateway's HTTP API: its only way to the model, the audit log,
the knowledge bases, the users' conversations and the admin data. Every call carries the
signed-in user's own access token, so the gateway's policy, quotas and audit apply to the
web UI exactly as to any other client. What a streamed chunk means for the chat window is
``webui.answer_view``'s to say."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from webui.answer_view import ChatDelta, delta_from_chunk

CONVERSATIONS = "/api/conversations"
KEYWORDS = "/api/content/keywords"
COMPLAINTS = "/api/complaints"
API_KEYS = "/api/keys"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A model the gateway serves, and its thinking mode as ``/v1/models`` gives it:
    ``always`` (it always reasons), ``template`` (the chat's ``thinking`` switches it) or
    ``none`` (it never reasons)."""

    id: str
    thinking: str = "always"

    @property
    def switchable(self) -> bool:
        """Whether a chat can turn its deep thinking on and off."""
        return self.thinking == "template"


class GatewayError(Exception):
    """The gateway refused or failed a call; ``retry_after`` comes from its header."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.retry_after = retry_after


def _error_from(response: httpx.Response, body: bytes) -> GatewayError:
    message, code = f"HTTP {response.status_code}", None
    try:
        error = json.loads(body)["error"]
        message, code = str(error.get("message") or message), error.get("code")
    except (ValueError, KeyError, TypeError):
        pass
    retry = response.headers.get("Retry-After")
    return GatewayError(
        response.status_code,
        message,
        code=None if code is None else str(code),
        retry_after=int(retry) if retry and retry.isdigit() else None,
    )


def parse_chunk(payload: dict[str, Any]) -> ChatDelta:
    """One streamed chunk: an error the gateway sent mid-stream is raised as a
    ``GatewayError``; anything else is a piece of the answer."""
    if "error" in payload:
        error = payload["error"]
        raise GatewayError(500, str(error.get("message", error)), code=error.get("code"))
    return delta_from_chunk(payload)


class GatewayClient:
    """The gateway's API, one method per call the web UI makes."""

    def __init__(self, base_url: str, http: httpx.AsyncClient, *, chat_timeout_s: float) -> None:
        self._base = base_url.rstrip("/")
        self._http = http
        self._chat_timeout = chat_timeout_s

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def _request(
        self,
        method: str,
        path: str,
        token: str,
        headers: Mapping[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """One call; ``kw`` goes to httpx (``params``, ``json``, ``files``, ``content``,
        ``timeout``), ``headers`` beside the token's. Any 2xx is a success: creating
        answers 201 and deleting may answer 204."""
        try:
            response = await self._http.request(
                method, self._base + path, headers={**self._auth(token), **(headers or {})}, **kw
            )
        except httpx.HTTPError as exc:
            raise GatewayError(503, f"gateway unreachable: {exc}") from exc
        if not response.is_success:
            raise _error_from(response, response.content)
        return response

    async def _json(self, method: str, path: str, token: str, **kw: Any) -> dict[str, Any]:
        body: dict[str, Any] = (await self._request(method, path, token, **kw)).json()
        return body

    async def me(self, token: str) -> dict[str, Any]:
        return await self._json("GET", "/api/me", token)

    async def first_model(self, token: str) -> ServedModel:
        models = (await self._json("GET", "/v1/models", token)).get("data") or []
        if not models:
            raise GatewayError(503, "no model is being served")
        card = models[0]
        return ServedModel(str(card["id"]), str(card.get("thinking") or "always"))

    async def model_ids(self, token: str) -> list[str]:
        """Every model the gateway serves the user (``/v1/models``)."""
        listed = (await self._json("GET", "/v1/models", token)).get("data") or []
        return [str(card["id"]) for card in listed if isinstance(card, dict) and "id" in card]

    async def stream_chat(
        self, token: str, request: dict[str, Any]
    ) -> AsyncGenerator[ChatDelta, None]:
        """Stream one answer. Closing the iterator early closes the connection, which makes
        the gateway abort the generation upstream (that is how "stop" works)."""
        body = {**request, "stream": True}
        timeout = httpx.Timeout(self._chat_timeout, connect=5.0)
        try:
            async with self._http.stream(
                "POST",
                f"{self._base}/v1/chat/completions",
                headers=self._auth(token),
                json=body,
                timeout=timeout,
            ) as response:
                if response.status_code != 200:
                    raise _error_from(response, await response.aread())
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    yield parse_chunk(json.loads(data))
        except httpx.HTTPError as exc:
            raise GatewayError(503, f"gateway connection failed: {exc}") from exc

    async def audit_events(self, token: str, filters: Mapping[str, str | int]) -> dict[str, Any]:
        return await self._json("GET", "/api/audit/events", token, params=filters)

    async def conversation_export(
        self, token: str, conversation_id: str, params: Mapping[str, str]
    ) -> tuple[bytes, str]:
        """The labelled file the gateway writes of a conversation, and the name it gives it."""
        path = f"/api/conversations/{conversation_id}/export"
        response = await self._request("GET", path, token, params=params)
        disposition = response.headers.get("content-disposition", "")
        name = (
            disposition.partition('filename="')[2].rstrip('"') or f"conversation-{conversation_id}"
        )
        return response.content, name

    async def audit_export(self, token: str, filters: Mapping[str, str | int]) -> bytes:
        return (await self._request("GET", "/api/audit/export", token, params=filters)).content

    async def compliance_export(self, token: str, lang: str) -> tuple[bytes, str]:
        """The 等保 evidence ZIP the gateway builds (secadmin or auditor), and its file name."""
        response = await self._request(
            "GET", "/api/compliance/export", token, params={"lang": lang}
        )
        disposition = response.headers.get("content-disposition", "")
        return response.content, disposition.partition('filename="')[2].rstrip('"')

    async def audit_verify(self, token: str, *, skip_signatures: bool = False) -> dict[str, Any]:
        body = {"skip_signatures": skip_signatures}
        return await self._json("POST", "/api/audit/verify", token, json=body)

    async def backends(self, token: str) -> dict[str, Any]:
        return await self._json("GET", "/api/admin/backends", token)

    async def usage(self, token: str) -> dict[str, Any]:
        """Token use per user and department today, and the recent error rate."""
        return await self._json("GET", "/api/admin/usage", token)

    async def keyword_entries(self, token: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        """A page of the active keyword library, with its revision and the total."""
        return await self._json("GET", KEYWORDS, token, params=params)

    async def keyword_versions(self, token: str) -> dict[str, Any]:
        return await self._json("GET", f"{KEYWORDS}/versions", token)

    async def keyword_export(self, token: str, fmt: str) -> tuple[bytes, str]:
        """The active library as a file (``csv`` or ``xlsx``) and the name the gateway gives it."""
        response = await self._request("GET", f"{KEYWORDS}/export", token, params={"format": fmt})
        disposition = response.headers.get("content-disposition", "")
        return response.content, disposition.partition('filename="')[2].rstrip(
            '"'
        ) or f"keywords.{fmt}"

    async def keyword_import(
        self,
        token: str,
        data: bytes,
        media_type: str,
        *,
        dry_run: bool = False,
        base_revision: int | None = None,
    ) -> dict[str, Any]:
        """Import a library file; ``dry_run`` only returns the diff against the active one."""
        params: dict[str, str | int] = {"dry_run": "true" if dry_run else "false"}
        if base_revision is not None:
            params["base_revision"] = base_revision
        return await self._json(
            "POST",
            f"{KEYWORDS}/import",
            token,
            headers={"Content-Type": media_type},
            params=params,
            content=data,
        )

    async def knowledge_bases(self, token: str) -> list[dict[str, Any]]:
        """The knowledge bases the user may read."""
        body = (await self._request("GET", "/api/kb", token)).json()
        return _listed(body, "knowledge_bases")

    async def create_kb(
        self, token: str, name: str, group: str | None, description: str, grade: str | None
    ) -> dict[str, Any]:
        body = {"name": name, "group": group, "description": description, "grade": grade}
        return await self._json("POST", "/api/kb", token, json=body)

    async def grades(self, token: str) -> list[str]:
        """The data grade names, lowest first."""
        body = await self._json("GET", "/api/kb/grades", token)
        return [str(name) for name in body.get("grades") or []]

    async def set_kb_grade(self, token: str, kb_id: str, grade: str) -> dict[str, Any]:
        return await self._json("PUT", f"/api/kb/{kb_id}/grade", token, json={"grade": grade})

    async def set_document_grade(
        self, token: str, kb_id: str, document_id: str, grade: str | None
    ) -> dict[str, Any]:
        path = f"/api/kb/{kb_id}/documents/{document_id}/grade"
        return await self._json("PUT", path, token, json={"grade": grade})

    async def documents(self, token: str, kb_id: str) -> list[dict[str, Any]]:
        body = (await self._request("GET", f"/api/kb/{kb_id}/documents", token)).json()
        return _listed(body, "documents")

    async def upload(
        self, token: str, kb_id: str, name: str, data: bytes, *, grade: str | None = None
    ) -> dict[str, Any]:
        """Upload one file (``grade``: its own data grade); the gateway may index it before
        answering, which takes as long as embedding its chunks, so this gets the chat's long
        timeout."""
        body = await self._json(
            "POST",
            f"/api/kb/{kb_id}/documents",
            token,
            files=[("files", (name, data))],
            params={"grade": grade} if grade else None,
            timeout=self._chat_timeout,
        )
        documents: list[dict[str, Any]] = body.get("documents") or [{}]
        return documents[0]

    async def delete_document(self, token: str, kb_id: str, document_id: str) -> None:
        await self._request("DELETE", f"/api/kb/{kb_id}/documents/{document_id}", token)

    async def conversations(self, token: str) -> list[dict[str, Any]]:
        """The user's own conversations, most recently used first."""
        body = (await self._request("GET", CONVERSATIONS, token)).json()
        return _listed(body, "conversations")

    async def create_conversation(self, token: str, title: str) -> dict[str, Any]:
        return await self._json("POST", CONVERSATIONS, token, json={"title": title})

    async def conversation(self, token: str, conversation_id: str) -> dict[str, Any]:
        """One of the user's conversations with its messages in order."""
        return await self._json("GET", f"{CONVERSATIONS}/{conversation_id}", token)

    async def rename_conversation(
        self, token: str, conversation_id: str, title: str
    ) -> dict[str, Any]:
        path = f"{CONVERSATIONS}/{conversation_id}"
        return await self._json("PATCH", path, token, json={"title": title})

    async def delete_conversation(self, token: str, conversation_id: str) -> None:
        await self._request("DELETE", f"{CONVERSATIONS}/{conversation_id}", token)

    async def append_message(
        self, token: str, conversation_id: str, message: Mapping[str, Any]
    ) -> dict[str, Any]:
        path = f"{CONVERSATIONS}/{conversation_id}/messages"
        return await self._json("POST", path, token, json=dict(message))

    async def drop_last_answer(self, token: str, conversation_id: str) -> None:
        await self._request("DELETE", f"{CONVERSATIONS}/{conversation_id}/last-answer", token)

    async def file_complaint(self, token: str, complaint: Mapping[str, Any]) -> dict[str, Any]:
        """Report one answer of the user's own conversation (its id and position)."""
        return await self._json("POST", COMPLAINTS, token, json=dict(complaint))

    async def own_complaints(self, token: str) -> list[dict[str, Any]]:
        """The user's own complaints and their states, newest first."""
        return _listed((await self._request("GET", f"{COMPLAINTS}/mine", token)).json(), "")

    async def complaint_queue(self, token: str, params: Mapping[str, str | int]) -> dict[str, Any]:
        """A page of the secadmin's queue (``state``, ``offset``, ``limit``)."""
        return await self._json("GET", COMPLAINTS, token, params=dict(params))

    async def close_complaint(
        self, token: str, complaint_id: int, state: str, note: str
    ) -> dict[str, Any]:
        path = f"{COMPLAINTS}/{complaint_id}/transition"
        return await self._json("POST", path, token, json={"state": state, "note": note})

    async def api_keys(self, token: str) -> list[dict[str, Any]]:
        """The user's own API keys, newest first (each with its prefix, never the key)."""
        body = (await self._request("GET", API_KEYS, token)).json()
        return _listed(body, "") if isinstance(body, list) else []

    async def create_api_key(self, token: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A new API key; the answer holds the key itself in ``key``, this once."""
        return await self._json("POST", API_KEYS, token, json=dict(body))

    async def revoke_api_key(self, token: str, key_id: str) -> dict[str, Any]:
        """Revoke one of the user's keys; the answer is the key as now listed."""
        return await self._json("DELETE", f"{API_KEYS}/{key_id}", token)


def _listed(body: Any, key: str) -> list[dict[str, Any]]:
    """A listing, whether the gateway sends a bare array or wraps it under ``key``."""
    items = body.get(key, []) if isinstance(body, dict) else body
    return [item for item in items if isinstance(item, dict)]
