"""A flag in the chat window reports the stored answer it was shown for: whichever bubble of
the answer is flagged (its reasoning, the answer, a citation), the report names that
answer's position in the stored conversation, never another one."""

from __future__ import annotations

from webui.gateway_client import GatewayError
from webui.i18n import Lang
from webui.ui_flag import answer_after, flag_option, questions_up_to, refusal
from webui.ui_secadmin import SCREENS

STORED = [
    {"position": 1, "role": "user", "content": "Q1"},
    {"position": 2, "role": "assistant", "content": "A1"},
    {"position": 3, "role": "user", "content": "Q2"},
    {"position": 4, "role": "assistant", "content": "A2"},
]
# As the chat window shows it: the second answer has a reasoning block and a citation.
SHOWN = [
    {"role": "user", "content": "Q1"},
    {"role": "assistant", "content": "A1"},
    {"role": "user", "content": "Q2"},
    {"role": "assistant", "content": "thinking", "metadata": {"title": "Thought"}},
    {"role": "assistant", "content": "A2"},
    {"role": "assistant", "content": "cited", "metadata": {"title": "[1] doc"}},
]


def test_each_bubble_of_an_answer_names_that_answers_position() -> None:
    positions = [answer_after(STORED, questions_up_to(SHOWN, i)) for i in (1, 3, 4, 5)]
    assert [p["position"] if p else None for p in positions] == [2, 4, 4, 4]


def test_an_answer_not_stored_yet_names_nothing() -> None:
    asked_again = [*SHOWN, {"role": "user", "content": "Q3"}, {"role": "assistant", "content": ""}]
    assert answer_after(STORED, questions_up_to(asked_again, len(asked_again) - 1)) is None


def test_the_chat_offers_the_flag_in_both_languages() -> None:
    assert flag_option(Lang.ZH) == ("举报/反馈",)
    assert flag_option(Lang.EN) == ("Report",)


def test_the_secadmin_tab_has_the_complaints_screen() -> None:
    assert ("tab_complaints", "complaints") in [(label, tab) for label, tab, _ in SCREENS]


def test_a_refused_report_says_why_in_the_users_language() -> None:
    down = refusal(GatewayError(503, "audit store down", code="audit_unavailable"), Lang.ZH)
    assert "审计服务不可用" in down.message
    other = refusal(GatewayError(404, "No such message.", code="message_not_found"), Lang.EN)
    assert other.message == "The report was not submitted: No such message."
