"""Every string the UI shows exists in Chinese (the default) and English, with the same
values to fill in, and refusals read as sentences that say when to retry."""

from __future__ import annotations

import string

import pytest

from webui.chat import friendly_error
from webui.gateway_client import GatewayError
from webui.i18n import _STRINGS, AI_LABEL, DEFAULT_LANG, Lang, known, t


def _fields(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def test_chinese_is_the_default_language() -> None:
    assert DEFAULT_LANG is Lang.ZH
    assert t("send", DEFAULT_LANG) == "发送"
    assert t("send", Lang.EN) == "Send"


def test_values_are_filled_in_both_languages() -> None:
    assert t("thought_for", Lang.ZH, seconds=4) == "已深度思考 4 秒"
    assert t("thought_for", Lang.EN, seconds=4) == "Thought for 4 s"
    assert t("error_rate", Lang.EN, minutes=5, requests=10, failed=1, rate=0.1) == (
        "Last 5 minutes: 10 chats, 1 failed, error rate 10.0%."
    )


@pytest.mark.parametrize("key", sorted(_STRINGS))
def test_every_string_has_both_languages_with_the_same_placeholders(key: str) -> None:
    zh, en = _STRINGS[key]
    assert zh.strip() and en.strip()
    assert _fields(zh) == _fields(en)


def test_the_ai_label_reads_the_same_in_both_languages() -> None:
    assert "由人工智能生成" in AI_LABEL and "AI-generated" in AI_LABEL
    assert t("ai_label", Lang.ZH) == t("ai_label", Lang.EN) == AI_LABEL


def test_keys_built_from_gateway_codes_can_be_checked_first() -> None:
    assert known("kb_err_zip_bomb")
    assert not known("kb_err_no_such_code")
    with pytest.raises(KeyError):
        t("kb_err_no_such_code", Lang.ZH)


@pytest.mark.parametrize(
    ("error", "lang", "sentence"),
    [
        (
            GatewayError(429, "quota", retry_after=30),
            Lang.ZH,
            "请求太频繁或今日额度已用完，请在 30 秒 后重试。",
        ),
        (
            GatewayError(503, "busy"),
            Lang.EN,
            "The service is busy right now; please retry in a moment.",
        ),
        (
            GatewayError(504, "slow", retry_after=2),
            Lang.EN,
            "The service is busy right now; please retry in 2 s.",
        ),
        (GatewayError(400, "bad model"), Lang.EN, "The request failed: bad model"),
    ],
)
def test_refusals_say_when_to_try_again(error: GatewayError, lang: Lang, sentence: str) -> None:
    assert friendly_error(error, lang) == sentence
