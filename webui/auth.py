"""Sign-in, sign-out and the gate in front of every page of the web UI.

``/login`` starts the authorization code flow with PKCE, ``/callback`` finishes it and
creates the server-side session, ``/logout`` ends both that session and Keycloak's
(RP-initiated logout). The ``RequireSession`` middleware sends anyone without a session to
``/login`` and anyone without a role the UI serves to ``/noaccess``.
"""

from __future__ import annotations

import html
from typing import Annotated

from fastapi import APIRouter, Cookie, Request
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from webui.gateway_client import GatewayError
from webui.i18n import DEFAULT_LANG, Lang, t
from webui.oidc import OIDCError, PendingLogin
from webui.services import LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE, Services
from webui.sessions import Identity

router = APIRouter()
# Reachable without a session: the sign-in round trip itself and the liveness probe.
PUBLIC_PATHS = frozenset({"/login", "/callback", "/logout", "/healthz", "/favicon.ico"})
NO_ACCESS_PATH = "/noaccess"


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def lang_of(value: str | None) -> Lang:
    return Lang(value) if value in {lang.value for lang in Lang} else DEFAULT_LANG


def _set_cookie(services: Services, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        services.signer.sign(value),
        httponly=True,
        samesite="lax",
        secure=services.settings.secure_cookies,
        path="/",
    )


def _page(lang: Lang, title: str, body: str, link: tuple[str, str], status: int) -> HTMLResponse:
    """A minimal page for the moments outside the Gradio app (no access, failed sign-in)."""
    href, label = link
    return HTMLResponse(
        f"""<!doctype html><html lang="{lang.value}"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;display:flex;justify-content:center;
margin-top:15vh}}main{{max-width:32rem;text-align:center}}a{{color:#2563eb}}</style></head>
<body><main><h1 id="page-title">{html.escape(title)}</h1><p>{html.escape(body)}</p>
<p><a id="page-link" href="{href}">{html.escape(label)}</a></p></main></body></html>""",
        status_code=status,
    )


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/")
async def root(webui_lang: Annotated[str | None, Cookie()] = None) -> RedirectResponse:
    return RedirectResponse(f"/{lang_of(webui_lang).value}/", status_code=303)


@router.get("/lang/{lang}")
async def choose_language(lang: str) -> RedirectResponse:
    chosen = lang_of(lang)
    response = RedirectResponse(f"/{chosen.value}/", status_code=303)
    response.set_cookie(LANG_COOKIE, chosen.value, samesite="lax", path="/")
    return response


@router.get("/login")
async def login(
    request: Request, webui_lang: Annotated[str | None, Cookie()] = None
) -> RedirectResponse:
    services = _services(request)
    pending = PendingLogin.new()
    services.sessions.put_pending(pending)
    locale = "zh-CN" if lang_of(webui_lang) is Lang.ZH else "en"
    url = await services.oidc.authorization_url(pending, ui_locale=locale)
    response = RedirectResponse(url, status_code=303)
    # Binds the sign-in to this browser: a callback carrying someone else's state fails.
    _set_cookie(services, response, LOGIN_COOKIE, pending.state)
    return response


@router.get("/callback")
async def callback(
    request: Request,
    code: str = "",
    state: str = "",
    webui_login: Annotated[str | None, Cookie()] = None,
    webui_lang: Annotated[str | None, Cookie()] = None,
) -> Response:
    services = _services(request)
    lang = lang_of(webui_lang)
    pending = services.sessions.pop_pending(state) if state else None
    if pending is None or services.signer.unsign(webui_login) != state or not code:
        return _failed(lang)
    try:
        tokens = await services.oidc.exchange(code, pending)
        identity = Identity.from_me(await services.gateway.me(tokens.access_token))
    except (OIDCError, GatewayError):
        return _failed(lang)
    session = services.sessions.create(tokens, identity)
    target = "/" if identity.has_access else NO_ACCESS_PATH
    response = RedirectResponse(target, status_code=303)
    _set_cookie(services, response, SESSION_COOKIE, session.id)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


def _failed(lang: Lang) -> HTMLResponse:
    return _page(lang, t("sign_in_failed", lang), "", ("/login", t("try_again", lang)), status=400)


@router.get("/logout")
async def logout(
    request: Request, webui_session: Annotated[str | None, Cookie()] = None
) -> RedirectResponse:
    services = _services(request)
    session_id = services.signer.unsign(webui_session)
    session = services.sessions.drop(session_id) if session_id else None
    target = "/"
    if session is not None and session.tokens.id_token:
        target = await services.oidc.logout_url(
            session.tokens.id_token,
            post_logout_redirect_uri=services.settings.public_url.rstrip("/") + "/",
        )
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get(NO_ACCESS_PATH)
async def no_access(
    request: Request,
    webui_session: Annotated[str | None, Cookie()] = None,
    webui_lang: Annotated[str | None, Cookie()] = None,
) -> HTMLResponse:
    lang = lang_of(webui_lang)
    session = _services(request).session_for(webui_session)
    user = session.identity.username if session else "?"
    return _page(
        lang,
        t("no_access_title", lang),
        t("no_access_body", lang, user=user),
        ("/logout", t("sign_out", lang)),
        status=403,
    )


class RequireSession:
    """Plain ASGI middleware (it must not buffer Gradio's streamed responses)."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] not in {"http", "websocket"}
            or path in PUBLIC_PATHS
            or path.startswith("/lang/")
        ):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        session = self.services.session_for(connection.cookies.get(SESSION_COOKIE))
        if session is not None and (session.identity.has_access or path == NO_ACCESS_PATH):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401})
            return
        response = self._refusal(scope, signed_in=session is not None)
        await response(scope, receive, send)

    @staticmethod
    def _refusal(scope: Scope, *, signed_in: bool) -> Response:
        """Pages redirect (to sign in, or to the no-access page); API calls get a status."""
        is_page = scope["method"] == "GET" and "/gradio_api/" not in scope["path"]
        if is_page:
            return RedirectResponse(NO_ACCESS_PATH if signed_in else "/login", status_code=303)
        status = 403 if signed_in else 401
        return JSONResponse({"error": "no access" if signed_in else "sign in"}, status)
