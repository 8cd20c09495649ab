"""The web UI's ASGI app: the sign-in routes beside one Gradio app per language.

``create_app`` builds everything once (HTTP client, session store, gateway client) and
``main`` serves it on loopback; an appliance never opens a public tunnel (no ``share``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import gradio as gr
import httpx
import uvicorn
from fastapi import FastAPI

from webui.auth import RequireSession, router
from webui.config import WebUISettings
from webui.conversations import Conversations
from webui.gateway_client import GatewayClient
from webui.i18n import Lang
from webui.oidc import OIDCClient
from webui.services import Services
from webui.sessions import CookieSigner, SessionStore
from webui.ui import CSS, FONTS, MONO_FONTS, build_ui


def create_app(settings: WebUISettings | None = None) -> FastAPI:
    settings = settings or WebUISettings()
    http = httpx.AsyncClient(timeout=settings.http_timeout_s)
    gateway = GatewayClient(settings.gateway_url, http, chat_timeout_s=settings.chat_timeout_s)
    services = Services(
        settings=settings,
        sessions=SessionStore(),
        signer=CookieSigner(settings.session_key()),
        oidc=OIDCClient(
            issuer=settings.issuer,
            client_id=settings.client_id,
            client_secret=settings.client_secret(),
            redirect_uri=settings.public_url.rstrip("/") + "/callback",
            http=http,
        ),
        gateway=gateway,
        conversations=Conversations(gateway),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await http.aclose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services = services
    app.include_router(router)
    app.add_middleware(RequireSession, services=services)
    for lang in Lang:
        gr.mount_gradio_app(
            app,
            build_ui(services, lang),
            path=f"/{lang.value}",
            server_name=settings.host,
            server_port=settings.port,
            footer_links=[],
            ssr_mode=False,
            show_error=False,
            css=CSS,
            theme=gr.themes.Soft(font=FONTS, font_mono=MONO_FONTS),
        )
    return app


def main() -> None:
    settings = WebUISettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        proxy_headers=False,
        access_log=False,
    )
