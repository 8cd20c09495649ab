"""A chat's policy on personal information per role, and the masking of the messages."""

from __future__ import annotations

from typing import Any

import pytest

from appliance.gateway.chat.screening import mask_personal, pii_policy
from appliance.settings import ChatPiiPolicy, ContentSettings

MASK, ALLOW = ChatPiiPolicy.MASK, ChatPiiPolicy.ALLOW
ROLES = {"kyc": ALLOW, "intern": MASK}


@pytest.mark.parametrize(
    ("default", "roles", "expected"),
    [
        (MASK, {"staff"}, MASK),  # none listed: the default
        (ALLOW, {"staff"}, ALLOW),
        (MASK, {"staff", "kyc"}, ALLOW),  # a listed role allows
        (ALLOW, {"staff", "intern"}, MASK),  # a listed role masks
        (ALLOW, {"kyc", "intern"}, MASK),  # listed roles disagree: mask
    ],
)
def test_the_policy_of_a_callers_roles(
    default: ChatPiiPolicy, roles: set[str], expected: ChatPiiPolicy
) -> None:
    content = ContentSettings(pii_chat_default=default, pii_chat_roles=ROLES)
    assert pii_policy(content, frozenset(roles)) is expected


def test_masking_is_the_default() -> None:
    assert pii_policy(ContentSettings(), frozenset({"staff"})) is MASK


def test_every_message_and_text_part_is_masked_and_counted() -> None:
    messages: list[Any] = [
        {"role": "system", "content": "客服邮箱 help@bank.cn"},
        {"role": "user", "content": [{"type": "text", "text": "手机13812345678、13912345678"}]},
        {"role": "assistant", "content": None},
    ]
    assert mask_personal(messages) == {"email": 1, "mobile": 2}
    assert messages[0]["content"] == "客服邮箱 [电子邮箱]"
    assert messages[1]["content"][0]["text"] == "手机[手机号]、[手机号]"
    assert messages[2]["content"] is None
