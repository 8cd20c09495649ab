"""The API keys tab (密钥), for every signed-in user: their own personal API keys.

A table of the user's keys (name, prefix, state, dates, model scope, allowed addresses,
knowledge-base scope), a form that makes one (its scopes picked from the models the gateway
serves the user and the knowledge bases they may read), and revoking one after a
confirmation. Every call goes to the gateway
with the user's own token; the gateway audits each creation and revocation before it
happens. The new key is shown once, in a box with a copy button, and never goes into a log,
a ``gr.State`` or the session store. Gradio keeps the last value of every output of a
browser tab in the web UI's memory, so the key reaches the page through a hidden carrier:
the browser copies it into the box and the carrier is then emptied, and the box itself is
filled in the browser only. The box is emptied when the user hides it or leaves the tab,
and a reload starts without it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import gradio as gr

from webui import api_keys
from webui.api_keys import COLUMNS, DEFAULT_DAYS, NAME_MAX, FormError
from webui.gateway_client import GatewayError
from webui.i18n import t
from webui.tab import Tab


def _anyone(_: Any) -> bool:
    """Every signed-in user may manage their own keys (the gateway decides the rest)."""
    return True


def _scoped(keys: list[dict[str, Any]]) -> bool:
    """Whether a key of the listing names knowledge bases, which the table then names."""
    return any(key.get("kb_scope") for key in keys)


class KeysTab(Tab):
    def _build(self) -> None:
        lang = self.lang
        gr.Markdown(t("key_intro", lang), elem_id="keys-intro")
        with gr.Row(equal_height=True):
            gr.Markdown(f"### {t('key_mine', lang)}")
            refresh = gr.Button(t("refresh", lang), size="sm", scale=0, elem_id="keys-refresh")
        self.count = gr.Markdown(elem_id="keys-count")
        self.table = gr.Dataframe(
            headers=[t(key, lang) for key in COLUMNS],
            interactive=False,
            wrap=True,
            elem_id="keys-table",
        )

        gr.Markdown(f"### {t('key_new', lang)}")
        with gr.Row(equal_height=True):
            name = gr.Textbox(
                label=t("key_name", lang),
                placeholder=t("key_name_ph", lang),
                max_length=NAME_MAX,
                max_lines=1,
                scale=3,
                elem_id="keys-name",
            )
            days = gr.Number(
                value=DEFAULT_DAYS,
                label=t("key_days", lang),
                precision=0,
                minimum=1,
                scale=1,
                elem_id="keys-days",
            )
        self.models = gr.Dropdown(
            choices=[], multiselect=True, label=t("key_models", lang), elem_id="keys-models"
        )
        self.kb_scope = gr.Dropdown(
            choices=[], multiselect=True, label=t("key_kb_scope", lang), elem_id="keys-kb-scope"
        )
        cidrs = gr.Textbox(
            label=t("key_cidrs", lang),
            placeholder=t("key_cidrs_ph", lang),
            lines=3,
            max_lines=10,
            elem_id="keys-cidrs",
        )
        create = gr.Button(t("key_create", lang), variant="primary", elem_id="keys-create")
        carrier = gr.Textbox(visible=False)
        with gr.Group(visible=False, elem_id="keys-secret-box") as self.secret_box:
            created = gr.Markdown(elem_id="keys-created")
            gr.Markdown(t("key_secret_warning", lang), elem_id="keys-secret-warning")
            self.secret = gr.Textbox(
                label=t("key_secret", lang),
                interactive=False,
                buttons=["copy"],
                elem_id="keys-secret",
            )
            done = gr.Button(t("key_secret_done", lang), size="sm", elem_id="keys-secret-done")

        gr.Markdown(f"### {t('key_revoke_title', lang)}")
        with gr.Row(equal_height=True):
            self.pick = gr.Dropdown(
                choices=[], label=t("key_revoke_pick", lang), scale=3, elem_id="keys-revoke-pick"
            )
            revoke = gr.Button(
                t("key_revoke", lang), variant="stop", scale=1, elem_id="keys-revoke"
            )
        pending = gr.State("")
        with gr.Group(visible=False, elem_id="keys-confirm-box") as confirm_box:
            question = gr.Markdown(elem_id="keys-confirm-text")
            with gr.Row():
                yes = gr.Button(
                    t("key_revoke_yes", lang), variant="stop", elem_id="keys-revoke-yes"
                )
                no = gr.Button(t("key_revoke_no", lang), elem_id="keys-revoke-no")
        status = gr.Markdown(elem_id="keys-status")

        listing = [self.count, self.table, self.pick]
        refresh.click(self._list, None, listing)
        create.click(
            self._create,
            [name, days, self.models, cidrs, self.kb_scope],
            [self.secret_box, created, carrier, name, cidrs, *listing],
        ).success(None, [carrier], [self.secret], js="(key) => key").success(
            lambda: "", None, [carrier]
        )
        done.click(self.forget, None, self.secret_outputs)
        revoke.click(self._ask, [self.pick], [confirm_box, question, pending])
        self.pick.change(lambda: (gr.Group(visible=False), ""), None, [confirm_box, pending])
        no.click(lambda: (gr.Group(visible=False), ""), None, [confirm_box, pending])
        yes.click(self._revoke, [pending], [confirm_box, pending, status, *listing])

    @property
    def outputs(self) -> list[Any]:
        """What the page loads into the tab: the table, the revoke picker, the models and
        the knowledge bases."""
        return [self.count, self.table, self.pick, self.models, self.kb_scope]

    @property
    def secret_outputs(self) -> list[Any]:
        """The new key's box and the key in it, emptied by ``forget``."""
        return [self.secret_box, self.secret]

    def forget(self) -> tuple[Any, str]:
        """Hide the new key's box and drop the key from the page."""
        return gr.Group(visible=False), ""

    def _refused(self, error: GatewayError) -> gr.Error:
        return gr.Error(api_keys.refusal_message(error, self.lang))

    async def _readable_kbs(self, token: str) -> list[dict[str, Any]]:
        try:
            return await self.services.gateway.knowledge_bases(token)
        except GatewayError:
            # No knowledge base list (none for this role): the scope stays "all", and a
            # scoped key's knowledge bases are shown by id.
            return []

    async def _listing(
        self, token: str, knowledge_bases: list[dict[str, Any]] | None = None
    ) -> tuple[str, list[list[str]], Any]:
        try:
            keys = await self.services.gateway.api_keys(token)
        except GatewayError as error:
            raise self._refused(error) from error
        if knowledge_bases is None:
            knowledge_bases = await self._readable_kbs(token) if _scoped(keys) else []
        names = api_keys.kb_names(knowledge_bases)
        now = datetime.now(UTC)
        choices = api_keys.revocable(keys, self.lang, now)
        return (
            t("key_count", self.lang, n=len(keys)),
            [api_keys.row(key, self.lang, now, names) for key in keys],
            gr.Dropdown(choices=choices, value=None),
        )

    async def load(self, request: gr.Request) -> tuple[Any, ...]:
        """The user's keys, and the models and knowledge bases a key may be limited to,
        with the page."""
        _, token = await self._access(request, _anyone, "err_session")
        readable = await self._readable_kbs(token)
        count, rows, picker = await self._listing(token, readable)
        try:
            models = await self.services.gateway.model_ids(token)
        except GatewayError:
            # No model list (no model served, or none for this role): the scope stays "all".
            models = []
        kbs = [(str(kb["name"]), str(kb["id"])) for kb in readable if "id" in kb]
        return count, rows, picker, gr.Dropdown(choices=models), gr.Dropdown(choices=kbs)

    async def _list(self, request: gr.Request) -> tuple[Any, ...]:
        _, token = await self._access(request, _anyone, "err_session")
        return await self._listing(token)

    async def _create(  # noqa: PLR0917 - Gradio passes the form's fields in order
        self,
        name: str | None,
        days: float | None,
        models: list[str] | None,
        cidrs: str | None,
        kb_scope: list[str] | None,
        request: gr.Request,
    ) -> tuple[Any, ...]:
        _, token = await self._access(request, _anyone, "err_session")
        try:
            form = api_keys.parse_form(name, days, models, cidrs, kb_scope)
        except FormError as wrong:
            raise gr.Error(t(wrong.key, self.lang, **wrong.values)) from wrong
        try:
            made = await self.services.gateway.create_api_key(token, form.body())
        except GatewayError as error:
            raise self._refused(error) from error
        expires = api_keys.shown_time(made["expires_at"])
        said = t("key_created", self.lang, name=made["name"], expires=expires)
        return (
            gr.Group(visible=True),
            said,
            str(made["key"]),
            "",
            "",
            *(await self._listing(token)),
        )

    async def _ask(self, key_id: str | None, request: gr.Request) -> tuple[Any, str, str]:
        """The confirmation step: name the chosen key and keep its id for ``_revoke``."""
        _, token = await self._access(request, _anyone, "err_session")
        if not key_id:
            raise gr.Error(t("key_pick_first", self.lang))
        try:
            keys = await self.services.gateway.api_keys(token)
        except GatewayError as error:
            raise self._refused(error) from error
        now = datetime.now(UTC)
        labels = {value: label for label, value in api_keys.revocable(keys, self.lang, now)}
        if key_id not in labels:
            raise gr.Error(t("key_err_api_key_not_found", self.lang))
        question = t("key_revoke_confirm", self.lang, label=labels[key_id])
        return gr.Group(visible=True), question, key_id

    async def _revoke(self, key_id: str, request: gr.Request) -> tuple[Any, ...]:
        _, token = await self._access(request, _anyone, "err_session")
        if not key_id:
            raise gr.Error(t("key_pick_first", self.lang))
        try:
            revoked = await self.services.gateway.revoke_api_key(token, key_id)
        except GatewayError as error:
            raise self._refused(error) from error
        said = t("key_revoked", self.lang, name=revoked["name"])
        return (gr.Group(visible=False), "", said, *(await self._listing(token)))
