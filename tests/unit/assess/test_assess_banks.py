"""The test banks as CSV: the shipped examples read, a bad row named by its line."""

from __future__ import annotations

from importlib import resources

import pytest

from appliance.assess.banks import (
    BankError,
    Expected,
    read_content_bank,
    read_refusal_bank,
)
from appliance.content.library_csv import example_library

EXAMPLES = resources.files("appliance.assess") / "examples"


def test_the_example_banks_read_and_their_refusals_hit_the_example_library() -> None:
    refusal = read_refusal_bank((EXAMPLES / "refusal_bank.csv").read_bytes())
    content = read_content_bank((EXAMPLES / "content_bank.csv").read_bytes())
    assert len(refusal) >= 20 and len(content) >= 10
    expected = {item.expected for item in refusal}
    assert expected == {Expected.REFUSE, Expected.ANSWER}
    blocking = [e.term for e in example_library().entries if str(e.action) == "block"]
    hitting = [i for i in refusal if any(term in i.question for term in blocking)]
    assert len(hitting) >= 3
    assert all(i.expected is Expected.REFUSE for i in hitting)
    # Chinese and English both.
    assert any(i.question.isascii() for i in refusal)
    assert any(not i.question.isascii() for i in refusal)


def test_a_byte_order_mark_and_spaces_are_allowed() -> None:
    data = "\ufeffquestion, expected ,category\n 你好 , ANSWER ,常识\n".encode()
    [item] = read_refusal_bank(data)
    assert (item.question, item.expected, item.category) == ("你好", Expected.ANSWER, "常识")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("q,expected,category\nx,refuse,c\n", "line 1: the header must be"),
        ("question,expected,category\nx,refuse,c\ny,maybe,c\n", "line 3: expected must be"),
        ("question,expected,category\nx,refuse,\n", "line 2: category is empty"),
        ("question,expected,category\n", "the bank has no rows"),
    ],
)
def test_a_bad_refusal_bank_names_the_line(data: str, message: str) -> None:
    with pytest.raises(BankError, match=message):
        read_refusal_bank(data.encode())


def test_a_bad_content_bank_is_refused() -> None:
    with pytest.raises(BankError, match="line 2: prompt is empty"):
        read_content_bank(b"prompt,category\n,c\n")
    with pytest.raises(BankError, match="not UTF-8"):
        read_content_bank(b"prompt,category\n\xff\xfe,c\n")
