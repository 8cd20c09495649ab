"""The long-lived objects the web UI's routes and Gradio handlers share, made once per app,
and the one way a handler gets a usable access token for the signed-in user."""

from __future__ import annotations

import time
from dataclasses import dataclass

import gradio as gr

from webui.config import WebUISettings
from webui.conversations import Conversations
from webui.gateway_client import GatewayClient
from webui.oidc import OIDCClient, OIDCError
from webui.sessions import CookieSigner, Session, SessionStore

SESSION_COOKIE = "webui_session"
LOGIN_COOKIE = "webui_login"
LANG_COOKIE = "webui_lang"


class SessionExpired(Exception):
    """The session is gone or its refresh failed: the user must sign in again."""


@dataclass(frozen=True, slots=True)
class Services:
    settings: WebUISettings
    sessions: SessionStore
    signer: CookieSigner
    oidc: OIDCClient
    gateway: GatewayClient
    conversations: Conversations

    def session_for(self, signed_cookie: str | None) -> Session | None:
        return self.sessions.get(self.signer.unsign(signed_cookie))

    def require(self, request: gr.Request) -> Session:
        """The session behind a Gradio event (from its cookie), or SessionExpired."""
        session = self.session_for(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise SessionExpired
        return session

    async def token(self, session: Session) -> str:
        """A valid access token, refreshed first when it is about to expire."""
        async with session.lock:
            margin = self.settings.refresh_margin_s
            if session.tokens.expires_at - time.time() < margin:
                try:
                    session.tokens = await self.oidc.refresh(session.tokens)
                except OIDCError as exc:
                    self.sessions.drop(session.id)
                    raise SessionExpired from exc
            return session.tokens.access_token
