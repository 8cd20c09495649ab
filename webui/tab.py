"""What every tab of the web UI shares: its services and language, and the one way a Gradio
event gets the signed-in user (and an access token) or the error that tells them why not.

A tab subclasses ``Tab`` and builds its components in ``_build``; its handlers call
``_session`` or ``_access`` first, so a user whose session has gone is always told to sign
in again in the same words, whichever tab they were on.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from webui.i18n import Lang, t
from webui.services import Services, SessionExpired
from webui.sessions import Identity, Session


def signed_in(services: Services, request: gr.Request, lang: Lang) -> Session:
    """The session behind a Gradio event; "sign in again" when it is gone."""
    try:
        return services.require(request)
    except SessionExpired as exc:
        raise gr.Error(t("err_session", lang)) from exc


class Tab:
    """Builds the tab's components (``_build``) and wires its events."""

    def __init__(self, services: Services, lang: Lang) -> None:
        self.services = services
        self.lang = lang
        self._build()

    def _build(self) -> None:
        raise NotImplementedError

    def _session(self, request: gr.Request) -> Session:
        return signed_in(self.services, request, self.lang)

    async def _access(
        self, request: gr.Request, allowed: Callable[[Identity], bool], refused: str
    ) -> tuple[Session, str]:
        """The session and a fresh access token for an event of a user that ``allowed``
        admits; anyone else gets the message ``refused`` (an i18n key)."""
        try:
            session = self.services.require(request)
            if not allowed(session.identity):
                raise gr.Error(t(refused, self.lang))
            return session, await self.services.token(session)
        except SessionExpired as exc:
            raise gr.Error(t("err_session", self.lang)) from exc
